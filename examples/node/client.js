// todo-grpc from Node with @grpc/grpc-js: register, log in, refresh, manage todos with
// paging and a field mask, and print the google.rpc details of an error.
//
//   node client.js --auth 127.0.0.1:50051 --todo 127.0.0.1:50052
'use strict';

const path = require('node:path');
const { parseArgs, promisify } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO_DIR = path.resolve(__dirname, '../../proto');

const { values: args } = parseArgs({
  options: {
    auth: { type: 'string', default: '127.0.0.1:50051' },
    todo: { type: 'string', default: '127.0.0.1:50052' },
  },
});

// keepCase: the proto's own field names (page_size, next_page_token), as in the contract.
const definition = protoLoader.loadSync(['auth/v1/auth.proto', 'todo/v1/todo.proto'], {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
});
const { auth, todo } = grpc.loadPackageDefinition(definition);

// The error model, to decode grpc-status-details-bin: google.rpc.Status and its details.
const errorModel = new protobuf.Root();
errorModel.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
errorModel.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const RpcStatus = errorModel.lookupType('google.rpc.Status');

/** Promisified unary methods of a client. */
function promised(client) {
  const out = {};
  for (const name of Object.keys(Object.getPrototypeOf(client))) {
    if (typeof client[name] === 'function') out[name] = promisify(client[name]).bind(client);
  }
  return out;
}

function bearer(token) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** The typed details of a gRPC error, decoded from its grpc-status-details-bin trailer. */
function errorDetails(err) {
  const [bin] = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
  if (!bin) return [];
  const status = RpcStatus.decode(bin);
  return status.details.map((any) => {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    const type = errorModel.lookupType(typeName);
    return { type: typeName, value: type.toObject(type.decode(any.value), { longs: Number }) };
  });
}

async function main() {
  const credentials = grpc.credentials.createInsecure();
  const authClient = promised(new auth.v1.AuthService(args.auth, credentials));
  const todoClient = promised(new todo.v1.TodoService(args.todo, credentials));

  const username = `node_${Date.now().toString(36)}`;
  const password = 'correct horse battery staple';
  const { user } = await authClient.Register({ username, password });
  console.log(`registered ${user.username} (${user.id})`);
  let pair = await authClient.Login({ username, password });
  console.log(`logged in: ${pair.token_type} token, expires in ${pair.expires_in}s`);
  pair = await authClient.Refresh({ refresh_token: pair.refresh_token });
  console.log('refreshed: new token pair');
  const me = await authClient.GetMe({}, bearer(pair.access_token));
  console.log(`signed in as ${me.username}`);

  const auth_ = bearer(pair.access_token);
  const ids = [];
  for (const title of ['buy milk', 'write report', 'call mum']) {
    const created = await todoClient.CreateTodo({ title, description: '' }, auth_);
    ids.push(created.id);
  }
  console.log(`created ${ids.length} todos`);

  const updated = await todoClient.UpdateTodo(
    { todo: { id: ids[0], completed: true }, update_mask: { paths: ['completed'] } },
    auth_,
  );
  console.log(`completed "${updated.title}" (mask: completed)`);

  let pageToken = '';
  let pages = 0;
  const titles = [];
  do {
    const page = await todoClient.ListTodos({ page_size: 2, page_token: pageToken }, auth_);
    pages += 1;
    titles.push(...page.todos.map((t) => `${t.completed ? '[x]' : '[ ]'} ${t.title}`));
    pageToken = page.next_page_token;
  } while (pageToken);
  console.log(`listed ${titles.length} todos in ${pages} pages of 2:\n  ${titles.join('\n  ')}`);
  if (titles.length !== 3 || pages !== 2) throw new Error('unexpected list');

  await todoClient.DeleteTodo({ id: ids[1] }, auth_);
  console.log('deleted one');

  try {
    await todoClient.CreateTodo({ title: '   ', description: '' }, auth_);
    throw new Error('an empty title was accepted');
  } catch (err) {
    if (err.code !== grpc.status.INVALID_ARGUMENT) throw err;
    console.log(`error as expected: ${grpc.status[err.code]}: ${err.details}`);
    const details = errorDetails(err);
    for (const d of details) console.log(`  ${d.type}: ${JSON.stringify(d.value)}`);
    const violation = details.find((d) => d.type === 'google.rpc.BadRequest');
    if (!violation || violation.value.field_violations[0].field !== 'title') {
      throw new Error('no BadRequest field violation for title');
    }
  }
  console.log('node example: OK');
}

main().catch((err) => {
  console.error(`node example failed: ${err.stack || err}`);
  process.exit(1);
});

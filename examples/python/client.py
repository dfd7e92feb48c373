"""todo-grpc from Python with grpcio: register, log in, refresh, manage todos with paging
and a field mask, and print the google.rpc details of an error.

    python client.py --auth 127.0.0.1:50051 --todo 127.0.0.1:50052
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from auth.v1 import auth_pb2, auth_pb2_grpc  # noqa: E402
from todo.v1 import todo_pb2, todo_pb2_grpc  # noqa: E402


def bearer(token):
    return (("authorization", f"Bearer {token}"),)


def print_details(err):
    """The google.rpc.Status carried in grpc-status-details-bin, detail by detail."""
    status = rpc_status.from_call(err)
    found = []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for v in bad.field_violations:
                print(f"  google.rpc.BadRequest: field={v.field!r} description={v.description!r}")
                found.append(v.field)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            print(f"  google.rpc.RetryInfo: retry in {retry.retry_delay.ToTimedelta()}")
        else:
            print(f"  {detail.type_url}")
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth", default="127.0.0.1:50051")
    parser.add_argument("--todo", default="127.0.0.1:50052")
    args = parser.parse_args()

    with grpc.insecure_channel(args.auth) as auth_channel, grpc.insecure_channel(args.todo) as todo_channel:
        auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        todo = todo_pb2_grpc.TodoServiceStub(todo_channel)

        username = f"py_{time.time_ns():x}"[:32]
        password = "correct horse battery staple"
        user = auth.Register(auth_pb2.RegisterRequest(username=username, password=password)).user
        print(f"registered {user.username} ({user.id})")
        pair = auth.Login(auth_pb2.LoginRequest(username=username, password=password))
        print(f"logged in: {pair.token_type} token, expires in {pair.expires_in}s")
        pair = auth.Refresh(auth_pb2.RefreshRequest(refresh_token=pair.refresh_token))
        print("refreshed: new token pair")
        me = auth.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(pair.access_token))
        print(f"signed in as {me.username}")

        md = bearer(pair.access_token)
        ids = [
            todo.CreateTodo(todo_pb2.CreateTodoRequest(title=t), metadata=md).id
            for t in ("buy milk", "write report", "call mum")
        ]
        print(f"created {len(ids)} todos")

        updated = todo.UpdateTodo(
            todo_pb2.UpdateTodoRequest(
                todo=todo_pb2.Todo(id=ids[0], completed=True),
                update_mask=field_mask_pb2.FieldMask(paths=["completed"]),
            ),
            metadata=md,
        )
        print(f'completed "{updated.title}" (mask: completed)')

        titles, pages, token = [], 0, ""
        while True:
            page = todo.ListTodos(todo_pb2.ListTodosRequest(page_size=2, page_token=token), metadata=md)
            pages += 1
            titles += [f"{'[x]' if t.completed else '[ ]'} {t.title}" for t in page.todos]
            token = page.next_page_token
            if not token:
                break
        print(f"listed {len(titles)} todos in {pages} pages of 2:\n  " + "\n  ".join(titles))
        assert len(titles) == 3 and pages == 2, "unexpected list"

        todo.DeleteTodo(todo_pb2.DeleteTodoRequest(id=ids[1]), metadata=md)
        print("deleted one")

        try:
            todo.CreateTodo(todo_pb2.CreateTodoRequest(title="   "), metadata=md)
            raise AssertionError("an empty title was accepted")
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            print(f"error as expected: {err.code().name}: {err.details()}")
            assert print_details(err) == ["title"], "no BadRequest field violation for title"
    print("python example: OK")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - a failed step ends the example with its reason
        print(f"python example failed: {e!r}", file=sys.stderr)
        sys.exit(1)

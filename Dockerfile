# syntax=docker/dockerfile:1
#
# One Dockerfile for both services. The build arg SERVICE picks the image:
#
#   docker build --build-arg SERVICE=auth-service -t todo-grpc/auth-service .
#   docker build --build-arg SERVICE=todo-service -t todo-grpc/todo-service .
#
# (`--target auth-service` / `--target todo-service` do the same.) Both images share every
# build layer: the dependency layer is rebuilt only when a Cargo.toml or Cargo.lock
# changes, and one `cargo build` makes both binaries. No protoc is needed (protox).
#
# The final image is distroless (glibc and libgcc, no shell, no package manager) with the
# binary alone, running as uid 65532 ("nonroot"). Its health check runs the binary's own
# `healthcheck` subcommand, which asks grpc.health.v1 at LISTEN_ADDR.

ARG SERVICE=auth-service
# The build and runtime images must be of one Debian release (one glibc): bookworm with
# distroless cc-debian12, or trixie with cc-debian13.
ARG RUST_VERSION=1.94
ARG BUILD_IMAGE=rust:${RUST_VERSION}-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------- build stages
FROM ${BUILD_IMAGE} AS toolchain
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

# The workspace reduced to its manifests, Cargo.lock and a stub per target.
FROM toolchain AS planner
COPY . .
RUN sh deploy/docker/recipe.sh /recipe

# Every dependency, compiled from the recipe. BuildKit keys this layer on the recipe's
# contents, so an edit to the project's own code does not invalidate it.
FROM toolchain AS dependencies
COPY --from=planner /recipe/ ./
RUN cargo build --release --locked -p auth-service -p todo-service

# The project's code on top. The copied sources may be older than the stubs that were
# just compiled, and cargo goes by modification times: touch them so it rebuilds them.
FROM dependencies AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY . .
RUN find . -path ./target -prune -o -type f -exec touch {} + \
 && cargo build --release --locked -p auth-service -p todo-service \
 && mkdir -p /out/data \
 && cp target/release/auth-service target/release/todo-service /out/ \
 && /out/auth-service --version | grep -q '^auth-service ' \
 && /out/todo-service --version | grep -q '^todo-service '

# ---------------------------------------------------------------- runtime stages
FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.licenses="MIT OR Apache-2.0"
# Working directory for the SQLite mode (DATABASE_URL=sqlite://auth.db and the like):
# writable by the service user; mount a volume here to keep the files.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
# One JSON object per log line, for the log collector.
ENV LOG_FORMAT=json

FROM runtime AS auth-service
LABEL org.opencontainers.image.title="auth-service" \
      org.opencontainers.image.description="auth.v1.AuthService: users, passwords, access and refresh tokens (gRPC and gRPC-Web)"
COPY --from=build /out/auth-service /usr/local/bin/auth-service
ENV LISTEN_ADDR=0.0.0.0:50051
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/auth-service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/auth-service"]

FROM runtime AS todo-service
LABEL org.opencontainers.image.title="todo-service" \
      org.opencontainers.image.description="todo.v1.TodoService: each user's todos behind JWT verification (gRPC and gRPC-Web)"
COPY --from=build /out/todo-service /usr/local/bin/todo-service
ENV LISTEN_ADDR=0.0.0.0:50052
EXPOSE 50052
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/todo-service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/todo-service"]

# The image the build arg asks for (the last stage is what `docker build` produces).
FROM ${SERVICE}

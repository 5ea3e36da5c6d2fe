# newsflow in a container: built with the Rust toolchain, run on a slim
# Debian as an unprivileged user. From the repository root:
#
#   docker build -t newsflow .
#   docker run --rm newsflow demo
#   docker run -d -p 9464:9464 -v newsflow-data:/var/lib/newsflow newsflow
#
# deploy/compose/ and deploy/k8s/ run one stage per container on Kafka.

FROM rust:1-bookworm AS build
# librdkafka is built from source by rdkafka-sys (./configure && make, with
# zlib): the full Debian image has the compiler, make and zlib headers.
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin newsflow \
 && cp target/release/newsflow /usr/local/bin/newsflow

FROM debian:bookworm-slim AS runtime
# The binary needs only libc, libgcc and zlib, all in the base image (TLS is
# rustls with its own roots). One user, no shell login, owns the state.
RUN groupadd --system --gid 10001 newsflow \
 && useradd --system --uid 10001 --gid newsflow --no-create-home --shell /usr/sbin/nologin newsflow \
 && mkdir -p /var/lib/newsflow /etc/newsflow \
 && chown newsflow:newsflow /var/lib/newsflow
COPY --from=build /usr/local/bin/newsflow /usr/local/bin/newsflow
COPY deploy/docker/newsflow.toml /etc/newsflow/newsflow.toml
COPY config/feeds.toml /etc/newsflow/feeds.toml
USER 10001:10001
WORKDIR /var/lib/newsflow
VOLUME ["/var/lib/newsflow"]
# /metrics and /health (operator_listen).
EXPOSE 9464
# SIGTERM lets each stage finish the record in hand and commit.
STOPSIGNAL SIGTERM
ENTRYPOINT ["newsflow"]
CMD ["run", "--config", "/etc/newsflow/newsflow.toml"]

# The `rehearse` binary and the bundled scenarios, for the recipes in
# deploy/ (sharded swarms and estimates on Kubernetes or Slurm).
#
#   docker build -t rehearse .
#   docker run --rm rehearse check scenarios/go-live-weekend.toml --swarm --runs 10000
#
# Two stages: the release build on the official Rust image, then the
# binary alone on Debian slim, run as an unprivileged user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin rehearse

FROM debian:bookworm-slim
COPY --from=build /src/target/release/rehearse /usr/local/bin/rehearse
COPY scenarios /opt/rehearse/scenarios
WORKDIR /opt/rehearse
USER 65534:65534
ENTRYPOINT ["rehearse"]

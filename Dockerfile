# The fipsgate frontend image: one static binary FROM scratch. This is the
# publishable build. Where no image can be pulled, `make frontend-image`
# replaces the `build` stage with a named context holding a binary built on
# the host (--build-context build=...), so this same file produces the image.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-trixie AS build
WORKDIR /src
ARG VERSION=dev
RUN --mount=target=. \
    --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=cache,target=/go/pkg/mod \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/fipsgate ./cmd/fipsgate

FROM scratch
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd"
COPY --from=build /out/fipsgate /bin/fipsgate
ENTRYPOINT ["/bin/fipsgate"]

// A module of its own so that the standard-library-only module above (../go.mod) builds
// without grpc-go; the interop test builds this one in GOPATH mode against Debian's
// golang-google-grpc-dev and golang-google-protobuf-dev (/usr/share/gocode).
module grpcclient

go 1.19

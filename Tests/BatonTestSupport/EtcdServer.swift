// The etcd process harness lands with the etcd backend.

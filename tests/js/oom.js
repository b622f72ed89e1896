// Memory is bounded per process (16 MiB sandboxed): allocating for ever
// ends this process with an InternalError, never the node.
const a = [];
for (;;) a.push(new Array(100000).fill(1.5));

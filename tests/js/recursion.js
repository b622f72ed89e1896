// Unbounded recursion ends the process with a RangeError, never the node.
function down(n) {
  return down(n + 1) + 1;
}
down(0);

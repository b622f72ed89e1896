// Many small objects, then one large string: the allocation that fails may
// leave no room for the "out of memory" error itself, which QuickJS then
// throws as null. The process still ends saying it ran out of memory.
const keep = [];
for (let i = 0; i < 400000; i++) keep.push({ i, s: "item" + i });
console.log(JSON.stringify(keep).length);

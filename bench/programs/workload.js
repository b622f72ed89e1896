// The JavaScript workload of `rusm bench programs`, run by QuickJS (js_main.c):
// ordinary work of a script (objects, arrays, strings, a JSON round trip, a
// regular expression, a recursive function), SCALE times. Its value (the last
// expression) is an int32 checksum that must be the same on every engine.
"use strict";

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function objects(n) {
  const points = [];
  for (let i = 0; i < n; i++) {
    points.push({ x: i, y: (i * 37) % 101, name: "p" + i });
  }
  let sum = 0;
  for (const p of points) {
    sum = (sum + p.x * p.y + p.name.length) | 0;
  }
  points.sort((a, b) => a.y - b.y || b.x - a.x);
  const byName = new Map();
  for (const p of points) {
    byName.set(p.name, p);
  }
  return (sum ^ points[0].x ^ byName.get("p" + (n >> 1)).y) | 0;
}

function strings(n) {
  const parts = [];
  for (let i = 0; i < n; i++) {
    parts.push(i.toString(36));
  }
  const joined = parts.join(",");
  let hash = 0;
  for (const word of joined.split(",")) {
    for (let j = 0; j < word.length; j++) {
      hash = (hash * 31 + word.charCodeAt(j)) | 0;
    }
  }
  const replaced = joined.replace(/a[0-9]/g, "#").toUpperCase();
  return (hash ^ replaced.length ^ replaced.indexOf("#Z")) | 0;
}

function json(n) {
  const data = { name: "bench", items: [] };
  for (let i = 0; i < n; i++) {
    data.items.push({ id: i, tags: ["a" + (i % 7), "b" + (i % 11)], ok: i % 3 === 0, v: i * 0.5 });
  }
  const text = JSON.stringify(data);
  const back = JSON.parse(text);
  let sum = text.length;
  for (const it of back.items) {
    sum = (sum + it.id + it.tags[1].length + (it.ok ? 1 : 0) + Math.floor(it.v)) | 0;
  }
  return sum;
}

function arrays(n) {
  const a = new Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = (i * 7919) % n;
  }
  const b = a.map((x) => x * 2).filter((x) => x % 3 !== 0);
  b.sort((x, y) => x - y);
  const typed = new Int32Array(b.length);
  for (let i = 0; i < b.length; i++) {
    typed[i] = b[i] ^ i;
  }
  return typed.reduce((s, x) => (s + x) | 0, 0) ^ b.length;
}

let checksum = 0;
for (let round = 0; round < SCALE; round++) {
  checksum = (checksum + fib(20) + objects(20000) + strings(20000) + json(4000) + arrays(50000)) | 0;
}
checksum;

console.log('start');
setTimeout(() => console.log('timeout'), 0);
Promise.resolve()
  .then(() => {
    console.log('promise 1');
    process.nextTick(() => console.log('tick inside promise'));
  })
  .then(() => console.log('promise 2'));
process.nextTick(() => {
  console.log('tick 1');
  Promise.resolve().then(() => console.log('promise inside tick'));
});
queueMicrotask(() => console.log('microtask'));
console.log('end');

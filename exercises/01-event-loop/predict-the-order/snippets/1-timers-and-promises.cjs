console.log('script start');
setTimeout(() => {
  console.log('timeout A');
  Promise.resolve().then(() => console.log('promise in timeout A'));
}, 0);
Promise.resolve()
  .then(() => console.log('promise 1'))
  .then(() => console.log('promise 2'));
setTimeout(() => console.log('timeout B'), 0);
console.log('script end');

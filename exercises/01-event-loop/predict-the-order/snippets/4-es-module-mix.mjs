// This file is an ES module (.mjs), not a CommonJS script.
async function job(name) {
  console.log(`${name} starts`);
  await null;
  console.log(`${name} resumes`);
}

setImmediate(() => {
  console.log('immediate 1');
  process.nextTick(() => console.log('tick in immediate'));
  Promise.resolve().then(() => console.log('promise in immediate'));
});
setImmediate(() => console.log('immediate 2'));
process.nextTick(() => console.log('tick'));
job('job');
Promise.resolve().then(() => console.log('promise'));
console.log('end');

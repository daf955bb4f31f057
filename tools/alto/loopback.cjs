// Preloaded into the alto bundler by the tests (`node --require tools/alto/loopback.cjs ...`):
// alto 0.0.20 listens on 0.0.0.0 unconditionally, and the project's test servers bind to the
// loopback interface only. Rewrites a wildcard listen host to 127.0.0.1.
const net = require("node:net");

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const opts = args[0];
  if (opts && typeof opts === "object" && (opts.host === "0.0.0.0" || opts.host === "::")) {
    args[0] = { ...opts, host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};

// Mocha's spec reporter that also appends each test file's wall time, slowest first, to the file named by
// TEST_TIMES (`TEST_TIMES=/tmp/times.txt npm test`): where the suite's minutes go.
const Mocha = require("mocha");
const { EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_RUN_END } = Mocha.Runner.constants;
class Timed extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const started = new Map();
    const times = new Map();
    runner.on(EVENT_SUITE_BEGIN, (s) => {
      if (s.file && s.parent && s.parent.root) started.set(s, Date.now());
    });
    runner.on(EVENT_SUITE_END, (s) => {
      if (started.has(s)) times.set(s.file, (times.get(s.file) || 0) + Date.now() - started.get(s));
    });
    runner.once(EVENT_RUN_END, () => {
      const rows = [...times].sort((a, b) => b[1] - a[1]);
      const out = rows.map(
        ([f, ms]) => `${(ms / 1000).toFixed(1).padStart(7)} s  ${f.replace(process.cwd() + "/", "")}`,
      );
      require("fs").appendFileSync(process.env.TEST_TIMES, out.join("\n") + "\n");
    });
  }
}
module.exports = Timed;

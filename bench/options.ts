/**
 * Command line of `npm run bench -- [section ...] [--runs N] [--json FILE] [--strict]`:
 * sections to run (default: every default section), how many times to repeat the whole set (the
 * summary reports median and range over the runs), where to write the targets as JSON, and whether
 * a target not met fails the process (for CI).
 */
export interface BenchOptions {
  sections: string[];
  runs: number;
  jsonPath: string | undefined;
  strict: boolean;
}

export function parseBenchArgs(argv: readonly string[], known: readonly string[]): BenchOptions {
  const options: BenchOptions = { sections: [], runs: 3, jsonPath: undefined, strict: false };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const next = inline ?? argv[++index];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    if (flag === "--runs") {
      const runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error("--runs must be an integer from 1 to 100");
      options.runs = runs;
    } else if (flag === "--json") {
      options.jsonPath = value();
    } else if (flag === "--strict") {
      options.strict = true;
    } else if (flag.startsWith("-")) {
      throw new Error(`unknown option ${flag} (known: --runs N, --json FILE, --strict)`);
    } else if (known.includes(flag)) {
      options.sections.push(flag);
    } else {
      throw new Error(`unknown section ${flag} (known: ${known.join(", ")})`);
    }
  }
  return options;
}

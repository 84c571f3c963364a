#!/usr/bin/env node
import { processIo } from "./io.js";
import { runCli } from "./run.js";

// The `tollgate` binary. Exits when the command is done, even if a store connection lingers.
const exitCode = await runCli(process.argv.slice(2), processIo());
process.exit(exitCode);

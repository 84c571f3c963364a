import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";
import type { CliIo } from "./io.js";

export interface OptionSpec {
  type: "string" | "boolean";
  description: string;
  /** Shown in help after the flag: `--scope SCOPE`. */
  valueName?: string;
  required?: boolean;
}

export interface PositionalSpec {
  name: string;
  description: string;
  required: boolean;
  /** Takes every remaining argument (the last positional only): `NAME...`. */
  variadic?: boolean;
}

export type ParsedOptions = Record<string, string | boolean | undefined>;

export interface CommandContext {
  io: CliIo;
  options: ParsedOptions;
  positionals: string[];
  command: Command;
}

/** One leaf command: `tollgate budget set`. Help text is generated from this description. */
export interface Command {
  /** Words after `tollgate`, e.g. "budget set". */
  name: string;
  summary: string;
  /** What it does and when to use it, a few lines. */
  details?: string;
  options: Record<string, OptionSpec>;
  positionals?: PositionalSpec[];
  examples?: string[];
  run(context: CommandContext): Promise<number>;
}

export const helpOption: Record<string, OptionSpec> = {
  help: { type: "boolean", description: "show this help" },
};

/** Parses a command's arguments; every parse problem becomes a UsageError pointing at --help. */
export function parseCommandArgs(command: Command, args: string[]): { options: ParsedOptions; positionals: string[] } {
  const spec = { ...command.options, ...helpOption };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args, spec),
      options: Object.fromEntries(Object.entries(spec).map(([name, option]) => [name, { type: option.type }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error as Error), command.name);
  }
  const options = parsed.values as ParsedOptions;
  if (options.help) return { options, positionals: parsed.positionals };
  const positionals = command.positionals ?? [];
  const required = positionals.filter((positional) => positional.required);
  if (parsed.positionals.length < required.length) {
    throw new UsageError(`missing ${required[parsed.positionals.length].name}`, command.name);
  }
  if (parsed.positionals.length > positionals.length && !positionals.at(-1)?.variadic) {
    throw new UsageError(`unexpected argument "${parsed.positionals[positionals.length]}"`, command.name);
  }
  for (const [name, option] of Object.entries(command.options)) {
    if (option.required && options[name] === undefined) {
      throw new UsageError(`missing --${name} ${option.valueName ?? ""}`.trimEnd(), command.name);
    }
  }
  return { options, positionals: parsed.positionals };
}

/**
 * `--limit -5` reads as a value to a person but as a flag to parseArgs; join it as `--limit=-5` so
 * the value check can say what is wrong with it.
 */
function joinNegativeValues(args: string[], spec: Record<string, OptionSpec>): string[] {
  const joined: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const name = args[index].startsWith("--") ? args[index].slice(2) : undefined;
    const next = args[index + 1];
    if (name && spec[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      joined.push(`--${name}=${next}`);
      index++;
    } else {
      joined.push(args[index]);
    }
  }
  return joined;
}

function parseErrorMessage(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const option = /'(-[^' ]+)/.exec(error.message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option ?? error.message}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && /ambiguous/.test(error.message)) {
    return `${option} needs a value; for a value starting with "-" write ${option}=VALUE`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") return `${option ?? "an option"} needs a value`;
  return error.message;
}

export function commandHelp(command: Command, shared: Record<string, OptionSpec> = {}): string {
  const ownNames = Object.keys(command.options).filter((name) => !(name in shared));
  const sharedNames = Object.keys(command.options).filter((name) => name in shared);
  const usageArgs = [
    ...(command.positionals ?? []).map((positional) => {
      const name = positional.variadic ? `${positional.name}...` : positional.name;
      return positional.required ? name : `[${name}]`;
    }),
    ...Object.keys(command.options)
      .filter((name) => command.options[name].required)
      .map((name) => `--${name} ${command.options[name].valueName ?? ""}`.trimEnd()),
    "[options]",
  ];
  const lines = [
    `tollgate ${command.name} - ${command.summary}`,
    "",
    `Usage: tollgate ${command.name} ${usageArgs.join(" ")}`,
  ];
  if (command.details) lines.push("", ...command.details.split("\n"));
  if (command.positionals?.length) {
    lines.push("", "Arguments:");
    for (const positional of command.positionals) lines.push(row(positional.name, positional.description));
  }
  lines.push("", "Options:");
  for (const name of ownNames) lines.push(optionRow(name, command.options[name]));
  lines.push(optionRow("help", helpOption.help));
  if (sharedNames.length > 0) {
    lines.push("", "Where the data comes from:");
    for (const name of sharedNames) lines.push(optionRow(name, command.options[name]));
  }
  if (command.examples?.length) {
    lines.push("", "Examples:");
    for (const example of command.examples) lines.push(`  ${example}`);
  }
  lines.push("", "Exit codes: 0 ok, 1 the operation failed, 2 the command line is wrong.");
  return `${lines.join("\n")}\n`;
}

function optionRow(name: string, option: OptionSpec): string {
  const flag = `--${name}${option.valueName ? ` ${option.valueName}` : ""}`;
  return row(flag, `${option.description}${option.required ? " (required)" : ""}`);
}

function row(left: string, right: string): string {
  return left.length >= 24 ? `  ${left}\n  ${" ".repeat(24)}${right}` : `  ${left.padEnd(24)}${right}`;
}

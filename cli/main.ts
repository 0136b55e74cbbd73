// The `sluice` command: a thin dispatcher. Each subcommand lives in its own
// module and is imported only when used, so `sluice produce` does not load the
// broker engine and `sluice serve` does not load the client.

export {}; // a module (for the top-level await below)

type CommandModule = { run(argv: string[]): Promise<number> };

const commands: Record<string, () => Promise<CommandModule>> = {
  serve: () => import("./serve_cmd.ts"),
  topics: () => import("./topics_cmd.ts"),
  produce: () => import("./produce_cmd.ts"),
  consume: () => import("./consume_cmd.ts"),
  bench: () => import("./bench_cmd.ts"),
  groups: () => import("./groups_cmd.ts"),
  cluster: () => import("./cluster_cmd.ts"),
  partitions: () => import("./partitions_cmd.ts"),
  dev: () => import("./dev_cmd.ts"),
};

function usage(): string {
  return [
    "usage: sluice <command> [options]",
    "",
    "commands:",
    ...Object.keys(commands).map((name) => `  ${name}`),
    "",
    "Run `sluice <command> --help` for a command's options.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const load = commands[name];
  if (load === undefined) {
    console.error(`sluice: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  const command = await load();
  return command.run(rest);
}

const code = await main(process.argv.slice(2));
if (code !== 0) process.exitCode = code;

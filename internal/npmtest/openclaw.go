package npmtest

import (
	"encoding/json"
	"strings"
)

// OpenclawEngines is the engines.node of the fake openclaw, as the real one.
const OpenclawEngines = ">=24.16.0 <25 || >=26.1.0"

// FailingOpenclaw is a fake openclaw@version that installs and passes the
// pre-start checks, then fails to start after migrating the state database:
// what an upgrade's health gate must catch and roll back.
//
// Its openclaw.mjs (Node ESM, no dependencies) does:
//   - --version: prints "OpenClaw <version> (fake)", exits 0;
//   - database preflight <path> --json: after 2 s (so a test can catch that
//     step), prints an "exact" openclaw.state-schema-preflight.v1 report for
//     schema version 18, exits 0;
//   - gateway run ...: if $OPENCLAW_STATE_DIR/state/openclaw.sqlite exists,
//     inserts <version> into table fake_upgrade_marker and sets
//     PRAGMA user_version=99 (node:sqlite); after 1 s prints
//     "fake openclaw <version>: simulated startup failure after migrating
//     the state database" to stderr, exits 1;
//   - anything else: "fake openclaw: unsupported command" on stderr, exits 2.
func FailingOpenclaw(version string) Package {
	v, _ := json.Marshal(version) // a string always marshals
	return Package{
		Name:        "openclaw",
		Version:     version,
		EnginesNode: OpenclawEngines,
		Files:       map[string]string{binFile: strings.Replace(failingOpenclawJS, "__VERSION__", string(v), 1)},
	}
}

// failingOpenclawJS imports node:sqlite only for gateway run, so that the
// other commands also run on a Node without it.
const failingOpenclawJS = `#!/usr/bin/env node
// Fake openclaw built by openclawd's internal/npmtest: it fails to start
// after migrating the state database, to test the upgrade rollback.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const VERSION = __VERSION__;
const args = process.argv.slice(2);

async function main() {
  if (args.length === 1 && args[0] === "--version") {
    console.log("OpenClaw " + VERSION + " (fake)");
    return 0;
  }
  if (args[0] === "database" && args[1] === "preflight") {
    const rest = args.slice(2);
    const paths = rest.filter((a) => !a.startsWith("--"));
    if (rest.includes("--json") && paths.length === 1 && rest.length === 2) {
      await sleep(2000);
      console.log(JSON.stringify({
        schema: "openclaw.state-schema-preflight.v1",
        databasePath: paths[0],
        targetVersion: 18,
        foundVersion: 18,
        issues: [],
        status: "exact",
        requiresWrite: false,
      }));
      return 0;
    }
  }
  if (args[0] === "gateway" && args[1] === "run") {
    const stateDir = process.env.OPENCLAW_STATE_DIR;
    const dbPath = stateDir ? join(stateDir, "state", "openclaw.sqlite") : "";
    if (dbPath && existsSync(dbPath)) {
      const { DatabaseSync } = await import("node:sqlite");
      const db = new DatabaseSync(dbPath);
      try {
        db.exec("CREATE TABLE IF NOT EXISTS fake_upgrade_marker(v TEXT)");
        db.prepare("INSERT INTO fake_upgrade_marker VALUES(?)").run(VERSION);
        db.exec("PRAGMA user_version=99");
      } finally {
        db.close();
      }
    }
    await sleep(1000);
    console.error("fake openclaw " + VERSION + ": simulated startup failure after migrating the state database");
    return 1;
  }
  console.error("fake openclaw: unsupported command");
  return 2;
}

// exitCode, not process.exit: output to a pipe is flushed before exiting.
main().then(
  (code) => { process.exitCode = code; },
  (err) => { console.error("fake openclaw " + VERSION + ": " + (err && err.stack || err)); process.exitCode = 1; },
);
`

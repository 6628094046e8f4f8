// The integration run retries a failed test once (a TCG guest with udev running is slow and
// uneven). A test that passed only on its retry is named, never hidden: this reporter writes each
// one to the file DEVMAPPER_FLAKY_FILE names, and scripts/test.js and the matrix print them.
import fs from 'node:fs';
import path from 'node:path';
import type { Reporter, TestCase } from 'vitest/node';

export default class FlakyReporter implements Reporter {
  private readonly flaky: string[] = [];

  onTestCaseResult(t: TestCase): void {
    const d = t.diagnostic();
    if (d?.flaky) this.flaky.push(`${path.relative(process.cwd(), t.module.moduleId)} > ${t.fullName} (passed on retry ${d.retryCount})`);
  }

  onTestRunEnd(): void {
    const file = process.env.DEVMAPPER_FLAKY_FILE;
    if (file) fs.writeFileSync(file, JSON.stringify(this.flaky));
  }
}

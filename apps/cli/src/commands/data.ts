/** `hgm data inspect`: per-category counts of a dataset and every problem, each naming its file. */
import type { Command } from 'commander';
import { formatInspectReport, inspectDatasetOnDisk, type DatasetFormat } from '@hgm/data/node';
import { CommandContext, type ActionFactory } from '../command-context';
import { CliError, EXIT } from '../exit-codes';
import { FOLDER_NAME_OPTIONS, FORMAT_CHOICES, folderLayoutOf, requireDatasetRoot } from '../dataset';

export async function runDataInspect(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const root = flags['root'] as string | undefined;
  if (!root) throw new CliError('missing <root>', EXIT.usage, 'usage: hgm data inspect <root> [--format <format>]');
  const format = flags['format'] as string | undefined;
  if (format !== undefined && !(FORMAT_CHOICES as readonly string[]).includes(format)) {
    throw new CliError(`option --format must be one of ${FORMAT_CHOICES.join(', ')}, found ${JSON.stringify(format)}`, EXIT.usage);
  }
  await requireDatasetRoot(root, 'dataset');
  const normalDir = typeof flags['normalDir'] === 'string' ? flags['normalDir'] : undefined;
  const abnormalDir = typeof flags['abnormalDir'] === 'string' ? flags['abnormalDir'].split(',').map((d) => d.trim()) : undefined;
  const report = await inspectDatasetOnDisk(root, {
    ...folderLayoutOf({ normalDir, abnormalDir }),
    skipCorrupt: flags['skipCorrupt'] === true,
    ...(format ? { format: format as DatasetFormat } : {}),
    ...(typeof flags['visaSplit'] === 'string' ? { visaSplitFile: flags['visaSplit'] } : {}),
  });
  ctx.result(report, formatInspectReport(report));
  return report.ok ? EXIT.ok : EXIT.failed;
}

export function registerData(program: Command, action: ActionFactory): void {
  const data = program.command('data').description('dataset tools');
  data
    .command('inspect')
    .description('read a dataset, check every image and mask, and print counts per category and every problem (exit 1 when there are errors)')
    .argument('<root>', 'dataset root')
    .option('--format <format>', `layout: ${FORMAT_CHOICES.join(', ')} (detected when left out)`)
    .option(...FOLDER_NAME_OPTIONS[0])
    .option(...FOLDER_NAME_OPTIONS[1])
    .option('--skip-corrupt', 'count corrupt files as warnings instead of errors')
    .option('--visa-split <csv>', 'VisA split file relative to the root (default split_csv/1cls.csv)')
    .option('--json', 'print the report as JSON on stdout')
    .option('--verbose', 'more detail')
    .action(action('data inspect', runDataInspect));
}

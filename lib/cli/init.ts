import { Command } from 'commander';
import { initProject, listTemplates } from '../toolkit/init';

interface InitFlags {
  language: string;
  name?: string;
  install: boolean;
  cdkDocker?: string;
  list?: boolean;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a new project from a template in the current (empty) directory')
    .argument('[template]', 'template to use', 'app')
    .option('-l, --language <language>', 'language of the template', 'typescript')
    .option('--name <name>', 'stack and package name (default: the directory name)')
    .option('--no-install', 'do not run npm install')
    .option('--cdk-docker <spec>', 'version spec of the cdk-docker dependency (default: this version, or this checkout when run from one)')
    .option('--list', 'list the available templates')
    .action((template: string, o: InitFlags) => {
      if (o.list) {
        for (const t of listTemplates()) process.stdout.write(`${t.name}  --language ${t.language}\n`);
        return;
      }
      const r = initProject({ template, language: o.language, dir: process.cwd(), name: o.name, install: o.install, librarySpec: o.cdkDocker });
      process.stdout.write(
        [
          `Created a ${r.template.language} ${r.template.name} project "${r.name}" in ${r.dir}`,
          '',
          'Next:',
          ...(r.installed ? [] : ['  npm install                # install cdk-docker and tsx']),
          '  npx cdk-docker synth       # write the plan to cdk.out/',
          '  npx cdk-docker ls          # list what the stack declares',
          '',
        ].join('\n'),
      );
    });
}

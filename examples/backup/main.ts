// A backup: `notes` keeps files in a named volume; `backup` mounts the volumes of `notes`
// (volumesFrom), archives them into ./backups on the host and exits. It runs once `notes` has
// started; re-applying an unchanged stack does not run it again.
import * as path from 'node:path';
import { App, Container, DependencyCondition, Image, Stack, Volume } from 'cdk-docker';

const app = new App();
const stack = new Stack(app, 'backup');

const busybox = new Image(stack, 'busybox', { archive: path.join(__dirname, '..', 'base', 'busybox.tar'), tag: 'busybox:examples' });
const notes = new Volume(stack, 'notes');

const writer = new Container(stack, 'notes-writer', {
  image: busybox,
  command: ['sh', '-c', 'echo "remember the milk" > /notes/todo.txt; exec sleep 100000'],
  mounts: [{ type: 'volume', source: notes, target: '/notes' }],
});

new Container(stack, 'backup', {
  image: busybox,
  command: ['sh', '-c', 'sleep 1; tar -czf /backups/notes.tgz -C /notes . && echo archived'],
  volumesFrom: [writer],
  mounts: [{ type: 'bind', source: path.join(__dirname, 'backups'), target: '/backups' }],
  dependsOn: [{ container: writer, condition: DependencyCondition.STARTED }],
});

app.synth();

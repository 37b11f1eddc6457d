import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { AttachConnection } from '../../runtime/containers/attach';

/**
 * How an attach relay ends when the monitor's socket reports an error, with a stand-in for the
 * socket (conmon's stdout packets start with 2; the real socket is exercised in attach.test and containers.test, where this race showed
 * under load: `run -it --rm` exited 125 with "uv callback of handle_io failed with error: EBADF"
 * after the container had printed its output and exited).
 */
class StandInSocket extends EventEmitter {
  public destroyed = false;
  public write(): void {}
  public end(): void {}
  public destroy(): void {
    this.destroyed = true;
  }
}

function relayOn(socket: StandInSocket) {
  const conn = Object.assign(Object.create(AttachConnection.prototype) as object, { socket, early: [], bundle: '/nonexistent' }) as unknown as AttachConnection;
  const stdout = new PassThrough();
  const output: Buffer[] = [];
  stdout.on('data', (d: Buffer) => output.push(d));
  const ended = conn.relay({ stdout, stderr: new PassThrough() }, { detachKeys: Buffer.alloc(0), stdinStaysOpen: false }, async () => 6);
  return { ended, output: () => Buffer.concat(output).toString() };
}

test('the monitor going away as an error (libuv\'s EBADF for POLLERR, a reset, a broken pipe) ends the attach with the exit code', async () => {
  for (const message of ['uv callback of handle_io failed with error: EBADF', 'read ECONNRESET', 'write EPIPE']) {
    const socket = new StandInSocket();
    const { ended, output } = relayOn(socket);
    socket.emit('data', Buffer.concat([Buffer.from([2]), Buffer.from('tty xterm\r\n')]));
    socket.emit('error', new Error(message));
    await expect(ended).resolves.toEqual({ how: 'exited', exitCode: 6 });
    expect(output()).toBe('tty xterm\r\n');
    expect(socket.destroyed).toBe(true);
  }
});

test('any other socket error is a failure, in one line', async () => {
  const socket = new StandInSocket();
  const { ended } = relayOn(socket);
  socket.emit('error', new Error('recvmsg EINVAL'));
  await expect(ended).rejects.toThrow("attach: the connection to the container's monitor failed: recvmsg EINVAL");
});

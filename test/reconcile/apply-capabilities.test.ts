import { Container, Restart, Stack, Testing } from '../../lib';
import type {
  ContainerCreateRequest,
  ContainerResourceRequest,
  ContainerUpdate,
  Driver,
  DriverCapabilities,
  ObservedContainer,
  ObservedImage,
  ObservedStack,
} from '../../lib/drivers/types';
import { LABELS } from '../../lib/drivers/types';
import type { DependencyCondition, Plan } from '../../lib/plan/types';
import { applyDiff, ApplyError, destroyStack } from '../../lib/reconcile/apply';
import { diffStack } from '../../lib/reconcile/diff';
import { FIXTURE_ENV, fixtureApp } from '../fixtures';
import { BUSYBOX_DEFAULTS, ENGINE, faithful, hex } from './faithful';

/**
 * apply carries out what the driver's capabilities say, on an engine kept in memory that records
 * the calls it gets (the built-in engine's real runs are in apply.test.ts and robustness.test.ts):
 * how a replacement goes, what an update passes, and what a driver that owns replicas is handed.
 */

type ContainerProps = ConstructorParameters<typeof Container>[2];

/** A driver whose engine is a map, recording every call that changes something. */
class RecordingDriver implements Driver {
  public readonly name = 'recording';
  public readonly calls: string[] = [];
  public readonly handed: ContainerResourceRequest[] = [];
  public applyContainer?: (request: ContainerResourceRequest) => Promise<string>;
  private readonly containers: ObservedContainer[];

  constructor(
    public readonly capabilities: DriverCapabilities,
    observed: ObservedStack,
  ) {
    this.containers = [...observed.containers];
    if (capabilities.ownsReplicas) {
      this.applyContainer = async (request) => {
        this.handed.push(request);
        this.calls.push(`applyContainer ${request.resource.name} ${request.action}`);
        return 'applied';
      };
    }
  }

  private find(nameOrId: string): ObservedContainer | undefined {
    return this.containers.find((c) => c.name === nameOrId || c.id === nameOrId);
  }

  public async observe(): Promise<ObservedStack> {
    return { networks: [], volumes: [], containers: [...this.containers] };
  }
  public async image(ref: string): Promise<ObservedImage> {
    return { id: `sha256:${hex(`image ${ref}`)}`, config: BUSYBOX_DEFAULTS };
  }
  public async ensureImage(): Promise<ObservedImage> {
    throw new Error('not used: the images are present');
  }
  public async createNetwork(): Promise<never> {
    throw new Error('not used');
  }
  public async removeNetwork(): Promise<void> {}
  public async createVolume(): Promise<never> {
    throw new Error('not used');
  }
  public async removeVolume(): Promise<void> {}
  public async createContainer(request: ContainerCreateRequest): Promise<ObservedContainer> {
    this.calls.push(`create ${request.name}`);
    const c = { ...this.containers[0], id: hex(`new ${request.name}`), name: request.name, labels: { ...request.labels }, status: 'created' as const };
    this.containers.push(c);
    return c;
  }
  public async startContainer(nameOrId: string): Promise<void> {
    this.calls.push(`start ${nameOrId}`);
  }
  public async stopContainer(): Promise<void> {}
  public async removeContainer(nameOrId: string): Promise<void> {
    const c = this.find(nameOrId);
    this.calls.push(`remove ${c ? c.name : nameOrId}`);
    if (c) this.containers.splice(this.containers.indexOf(c), 1);
  }
  public async updateContainer(nameOrId: string, update: ContainerUpdate): Promise<void> {
    this.calls.push(`update ${this.find(nameOrId)?.name ?? nameOrId} ${Object.keys(update).sort().join(',')}`);
    const c = this.find(nameOrId);
    if (c && update.name !== undefined) this.containers[this.containers.indexOf(c)] = { ...c, name: update.name };
  }
  public async connectNetwork(): Promise<void> {}
  public async disconnectNetwork(): Promise<void> {}
  public async wait(nameOrId: string, condition: DependencyCondition): Promise<void> {
    if (condition !== 'started') this.calls.push(`wait ${nameOrId} ${condition}`);
  }
  public async logs(): Promise<void> {}
  public async exec(): Promise<{ exitCode: number }> {
    return { exitCode: 0 };
  }
  public async copyToContainer(): Promise<void> {}
  public async listStacks(): Promise<string[]> {
    return ['shop'];
  }
  public async lockStack<T>(_stack: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}

function webStack(props: Partial<ContainerProps> = {}, withDb = false): Plan {
  const stack = new Stack(fixtureApp({ env: FIXTURE_ENV }), 'shop');
  const db = withDb ? new Container(stack, 'db', { image: 'busybox:1.36', replicas: 2, healthcheck: { test: 'true' } }) : undefined;
  new Container(stack, 'web', { image: 'busybox:1.36', ...(db ? { dependsOn: [{ container: db, condition: 'healthy' }] } : {}), ...props });
  return Testing.synth(stack);
}

/** Applies `plan` over what applying `applied` left, with a driver of `capabilities`; returns the driver. */
async function applyOver(applied: Plan | undefined, plan: Plan, capabilities: DriverCapabilities): Promise<RecordingDriver> {
  const f = applied ? faithful(applied) : { observed: { networks: [], volumes: [], containers: [] }, images: faithful(plan).images };
  const driver = new RecordingDriver(capabilities, f.observed);
  const diff = diffStack(plan, f.observed, f.images, capabilities);
  await applyDiff(plan, diff, f.observed, driver, { images: f.images, env: FIXTURE_ENV });
  return driver;
}

const engine = (over: Partial<DriverCapabilities>): DriverCapabilities => ({ ...ENGINE, ...over });

describe('a replacement', () => {
  test('on an engine that renames, starts the new container first as <name>-next and gives it the name once the old one is gone', async () => {
    const driver = await applyOver(webStack({ env: { V: '1' } }), webStack({ env: { V: '2' } }), ENGINE);
    expect(driver.calls).toEqual(['create shop-web-next', 'start shop-web-next', 'remove shop-web', 'update shop-web-next name']);
  });

  test('a <name>-next left by a killed apply (observed: it carries the stack\'s labels) is removed first; none is asked for otherwise', async () => {
    const applied = webStack({ env: { V: '1' } });
    const plan = webStack({ env: { V: '2' } });
    const f = faithful(applied);
    const web = f.observed.containers.find((c) => c.name === 'shop-web')!;
    const observed = { ...f.observed, containers: [...f.observed.containers, { ...web, id: 'leftover', name: 'shop-web-next' }] };
    const driver = new RecordingDriver(ENGINE, observed);
    await applyDiff(plan, diffStack(plan, observed, f.images, ENGINE), observed, driver, { images: f.images, env: FIXTURE_ENV });
    // (The diff also lists the leftover as a surplus to delete, last: by then the name is free.)
    expect(driver.calls).toEqual(['remove shop-web-next', 'create shop-web-next', 'start shop-web-next', 'remove shop-web', 'update shop-web-next name', 'remove shop-web-next']);
  });

  test('on an engine that cannot rename, removes the old container first and makes the new one under its name', async () => {
    const driver = await applyOver(webStack({ env: { V: '1' } }), webStack({ env: { V: '2' } }), engine({ inPlace: ENGINE.inPlace.filter((f) => f !== 'name') }));
    expect(driver.calls).toEqual(['remove shop-web', 'create shop-web', 'start shop-web']);
  });

  test('with a fixed host port, removes the old container first even where the engine renames', async () => {
    const driver = await applyOver(webStack({ env: { V: '1' }, ports: ['8080:80'] }), webStack({ env: { V: '2' }, ports: ['8080:80'] }), ENGINE);
    expect(driver.calls).toEqual(['remove shop-web', 'create shop-web', 'start shop-web']);
  });
});

describe('an update in place', () => {
  test('passes the settings the engine changes in place, and the labels where it can relabel', async () => {
    const driver = await applyOver(webStack(), webStack({ restart: Restart.ALWAYS }), ENGINE);
    expect(driver.calls).toEqual(['update shop-web labels,memoryBytes,nanoCpus,pidsLimit,restart']);
  });

  test('passes nothing the engine does not declare: no labels where it cannot relabel, no limits it cannot change', async () => {
    const driver = await applyOver(webStack(), webStack({ restart: Restart.ALWAYS }), engine({ inPlace: ['restart'], relabel: false }));
    expect(driver.calls).toEqual(['update shop-web restart']);
  });
});

describe('a driver that owns replicas', () => {
  const owning = engine({ ownsReplicas: true });

  test('is handed each container resource whole, and waits on a dependency by its name', async () => {
    const driver = await applyOver(undefined, webStack({ replicas: 3 }, true), owning);
    expect(driver.calls).toEqual(['applyContainer shop-db create', 'wait shop-db healthy', 'applyContainer shop-web create']);
    const web = driver.handed.find((r) => r.resource.name === 'shop-web')!;
    expect(web).toMatchObject({ action: 'create', fields: [], observed: [], env: {} });
    expect(web.labels).toMatchObject({ [LABELS.stack]: 'shop', [LABELS.path]: 'web' });
    expect(web.labels[LABELS.replica]).toBeUndefined();
    expect(web.imageId).toBe(`sha256:${hex('image docker.io/library/busybox:1.36')}`);
  });

  test('gets a scale-down with a change as one update of the resource, its surplus replicas included, and removes nothing itself', async () => {
    const driver = await applyOver(webStack({ replicas: 3 }), webStack({ replicas: 2, restart: Restart.ALWAYS }), owning);
    expect(driver.calls).toEqual(['applyContainer shop-web update']);
    const [request] = driver.handed;
    expect(request.fields).toEqual(['restart', 'replicas']);
    expect(request.observed.map((c) => c.name).sort()).toEqual(['shop-web', 'shop-web-2', 'shop-web-3']);
  });

  test('gets a replacement of any replica as a replacement of the resource; an unchanged resource is not handed', async () => {
    const driver = await applyOver(webStack({ replicas: 2, env: { V: '1' } }, true), webStack({ replicas: 2, env: { V: '2' } }, true), owning);
    expect(driver.calls).toEqual(['wait shop-db healthy', 'applyContainer shop-web replace']);
    expect(driver.handed[0].fields).toEqual(['env.V']);
  });

  test('without applyContainer is refused before anything changes', async () => {
    const f = faithful(webStack());
    const driver = new RecordingDriver(owning, f.observed);
    driver.applyContainer = undefined;
    const plan = webStack({ restart: Restart.ALWAYS });
    await expect(applyDiff(plan, diffStack(plan, f.observed, f.images, owning), f.observed, driver, { images: f.images })).rejects.toThrow(ApplyError);
    expect(driver.calls).toEqual([]);
  });
});

describe('destroy', () => {
  /** A RecordingDriver whose removals take 50 ms each, counting how many run at once. */
  function slowRemovals(capabilities: DriverCapabilities, replicas: number): { driver: RecordingDriver; most: () => number } {
    const f = faithful(webStack({ replicas }));
    const driver = new RecordingDriver(capabilities, f.observed);
    let inFlight = 0;
    let most = 0;
    const remove = driver.removeContainer.bind(driver);
    driver.removeContainer = async (nameOrId: string) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight--;
      return remove(nameOrId);
    };
    return { driver, most: () => most };
  }

  test('removes as many containers at once as the engine takes best, or as many as asked', async () => {
    const sixteen = slowRemovals(engine({ parallelism: 16 }), 20);
    expect(await destroyStack('shop', undefined, sixteen.driver)).toEqual({ removed: 20, keptVolumes: [] });
    expect(sixteen.most()).toBe(16);
    const unsaid = slowRemovals(engine({ parallelism: undefined }), 8);
    await destroyStack('shop', undefined, unsaid.driver);
    expect(unsaid.most()).toBe(4);
    const asked = slowRemovals(engine({ parallelism: 16 }), 8);
    await destroyStack('shop', undefined, asked.driver, { parallelism: 2 });
    expect(asked.most()).toBe(2);
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitForState } from '../testing/ipmi-bmc.js';
import { run } from '../testing/run.js';
import { waitFor } from '@lightsout/lab/wait';
import { Bmc } from '../bmc/bmc.js';
import { bmcConfig, type BmcFaults } from '../bmc/config.js';
import { selfSignedCertificate, type TlsMaterial } from '../web/tls.js';

// Third-party Redfish clients from Debian (python3-sushy, redfishtool) drive
// power, boot override and virtual media; the host model is the ground truth.

let tls: TlsMaterial;
let imageServer: Server;
let imageUrl: string;
let caDirectory: string;
let caFile: string;
const image = Buffer.alloc(40 * 1024);
image.write('CD001', 0x8001, 'latin1');
const bmcs: Bmc[] = [];

beforeAll(async () => {
  tls = await selfSignedCertificate('bmcsim-test', ['127.0.0.1']);
  // sushy verifies the BMC against its own self-signed certificate: pinning, as an operator would.
  caDirectory = await mkdtemp(join(tmpdir(), 'bmcsim-ca-'));
  caFile = join(caDirectory, 'bmc.pem');
  await writeFile(caFile, tls.cert);
  imageServer = createServer((request, response) => {
    if (request.url !== '/images/rescue.iso') return response.writeHead(404).end();
    response.writeHead(200, { 'Content-Length': image.length }).end(image);
  });
  await new Promise<void>((resolve) => imageServer.listen(0, '127.0.0.1', resolve));
  const address = imageServer.address();
  imageUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/images/rescue.iso`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => imageServer.close(() => resolve()));
  await rm(caDirectory, { recursive: true, force: true });
});
afterEach(async () => {
  for (const bmc of bmcs.splice(0)) await bmc.stop();
});

async function startBmc(faults: Partial<BmcFaults> = {}): Promise<{ bmc: Bmc; url: string; serial: () => string }> {
  const bmc = new Bmc(bmcConfig('rf-01', { timings: { postMs: 20, bootMs: 20, shutdownMs: 50, cycleMs: 20 }, faults }));
  bmcs.push(bmc);
  let serial = '';
  bmc.host.on('serial', (bytes) => (serial += Buffer.from(bytes).toString('latin1')));
  const endpoints = await bmc.start({ address: '127.0.0.1', ipmiPort: 0, webPort: 0, vncPort: 0, tls });
  await waitForState(bmc.host, 'running');
  return { bmc, url: endpoints.redfishUrl, serial: () => serial };
}


const SUSHY_SCRIPT = String.raw`
import json, sys, warnings
warnings.filterwarnings("ignore")
import sushy
url, image, step, ca = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
root = sushy.Sushy(url + "/redfish/v1", verify=ca, auth=sushy.auth.SessionAuth(username="admin", password="adminpass"))
system = root.get_system(root.get_system_collection().members_identities[0])
def media():
    for source in (lambda: system.virtual_media, lambda: root.get_manager(root.get_manager_collection().members_identities[0]).virtual_media):
        try:
            collection = source()
            return collection.get_member(collection.members_identities[0])
        except (AttributeError, sushy.exceptions.MissingAttributeError):
            continue
    # sushy 4.3 has no System.virtual_media: follow the link the document gives.
    from sushy.resources.manager.virtual_media import VirtualMedia
    members = root._conn.get(system.json["VirtualMedia"]["@odata.id"]).json()["Members"]
    return VirtualMedia(root._conn, members[0]["@odata.id"], redfish_version=root.redfish_version)
if step == "power-off":
    system.reset_system(sushy.RESET_FORCE_OFF)
elif step == "power-on":
    system.reset_system(sushy.RESET_ON)
elif step == "boot-pxe":
    system.set_system_boot_options(target=sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
elif step.startswith("boot-cd"):
    target = sushy.BOOT_SOURCE_TARGET_USB_CD if step == "boot-cd-usb" else sushy.BOOT_SOURCE_TARGET_CD
    system.set_system_boot_options(target=target, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    system.reset_system(sushy.RESET_FORCE_RESTART)
elif step == "insert":
    media().insert_media(image, inserted=True, write_protected=True)
elif step == "eject":
    media().eject_media()
system.refresh()
print(json.dumps({"power": str(system.power_state), "target": str(system.boot.target), "enabled": str(system.boot.enabled)}))
`;

async function sushy(url: string, step: string): Promise<Record<string, string>> {
  const result = await run('/usr/bin/python3', ['-c', SUSHY_SCRIPT, url, imageUrl, step, caFile], {
    timeoutMs: 30_000,
    // requests lets REQUESTS_CA_BUNDLE override a session's verify= setting, so point it at the BMC's certificate too.
    env: { ...process.env, REQUESTS_CA_BUNDLE: caFile, CURL_CA_BUNDLE: caFile },
  });
  expect(result.code, `${step}: ${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, string>;
}

describe('Redfish with python3-sushy', () => {
  it('drives power, boot override and virtual media (OpenBMC layout, HTTPS + session)', async () => {
    const { bmc, url, serial } = await startBmc();
    expect((await sushy(url, 'power-off')).power).toMatch(/off/i);
    expect(bmc.host.powerState).toBe('off');
    await sushy(url, 'power-on');
    await waitForState(bmc.host, 'running');
    const boot = await sushy(url, 'boot-pxe');
    expect(bmc.host.bootOverride).toEqual({ device: 'pxe', persistent: false, uefi: false });
    expect(boot.target).toMatch(/pxe/i);
    await sushy(url, 'insert');
    expect(bmc.host.virtualMedia).toEqual({ name: 'rescue.iso', url: imageUrl, bytes: image.length });
    await sushy(url, 'boot-cd');
    await waitFor('virtual CD boot', () => serial().includes('Booting from virtual CD: rescue.iso\r\n'), { timeoutMs: 5000, wake: (wake) => (bmc.host.on('serial', wake), () => bmc.host.off('serial', wake)) });
    await sushy(url, 'eject');
    expect(bmc.host.virtualMedia).toBeUndefined();
    expect(bmc.eventLog.entries.map((entry) => entry.event)).toEqual(['power-on', 'power-off', 'power-on', 'reset']);
  });

  it('copes with Supermicro quirks and VirtualMedia under Systems', async () => {
    const { bmc, url, serial } = await startBmc({ redfishFlavour: 'supermicro', virtualMediaLocation: 'systems' });
    // sushy retries InsertMedia without Inserted/WriteProtected after the 400.
    await sushy(url, 'insert');
    expect(bmc.host.virtualMedia?.name).toBe('rescue.iso');
    await sushy(url, 'boot-cd-usb');
    await waitFor('UsbCd boot', () => serial().includes('Booting from virtual CD: rescue.iso'), { timeoutMs: 5000, wake: (wake) => (bmc.host.on('serial', wake), () => bmc.host.off('serial', wake)) });
  });
});

describe('Redfish with redfishtool', () => {
  const tool = (url: string, ...args: string[]) => run('redfishtool', ['-r', new URL(url).host, '-S', 'Always', '-A', 'Session', '-u', 'admin', '-p', 'adminpass', ...args], { timeoutMs: 30_000 });

  it('reads the system, resets it and sets a boot override', async () => {
    const { bmc, url } = await startBmc();
    const system = await tool(url, 'Systems', '-1');
    expect(system.code, system.stderr).toBe(0);
    expect(JSON.parse(system.stdout)).toMatchObject({ PowerState: 'On', Id: 'system' });
    expect((await tool(url, 'Systems', '-1', 'reset', 'ForceOff')).code).toBe(0);
    expect(bmc.host.powerState).toBe('off');
    const override = await tool(url, 'Systems', '-1', 'setBootOverride', 'Continuous', 'Hdd');
    expect(override.code, override.stderr).toBe(0);
    expect(bmc.host.bootOverride).toEqual({ device: 'disk', persistent: true, uefi: false });
    const wrong = await run('redfishtool', ['-r', new URL(url).host, '-S', 'Always', '-u', 'admin', '-p', 'nope', 'Systems', '-1'], { timeoutMs: 30_000 });
    expect(wrong.code).not.toBe(0);
  });
});

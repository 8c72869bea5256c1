import type { BmcConfig } from '../bmc/config.js';
import type { Host } from '../host/host.js';
import { badRequest, RedfishError } from './errors.js';
import type { Flavour } from './flavours.js';
import { downloadImage } from './media.js';

/**
 * The one VirtualMedia device (CD1): InsertMedia and EjectMedia actions, the
 * PATCH of Image/Inserted that BMCs without the actions take instead, and
 * the faults that make a BMC offer only PATCH or store a PATCH without
 * acting on it.
 */
export class VirtualMediaResource {
  private version = 1;
  /** Fault `virtualMediaStoresPatch`: the last PATCHed Image/Inserted, stored and never acted on. */
  private stored: { image: string | null; inserted: boolean } | undefined;

  constructor(
    private readonly config: BmcConfig,
    private readonly host: Host,
    private readonly flavour: Flavour,
  ) {}

  etag(): string {
    return `W/"media-${this.version}"`;
  }

  storedMedia(): { image: string | null; inserted: boolean } | undefined {
    return this.stored;
  }

  /** Whether InsertMedia and EjectMedia exist: a BMC that only takes PATCH (or only stores it) has neither. */
  offersActions(): boolean {
    return !this.config.faults.virtualMediaPatchOnly && !this.config.faults.virtualMediaStoresPatch;
  }

  async insert(body: unknown): Promise<void> {
    const parameters = (body ?? {}) as Record<string, unknown>;
    const refused = this.flavour.insertMediaRejects.find((name) => name in parameters);
    if (refused !== undefined) throw badRequest('ActionParameterUnknown', `The action InsertMedia was submitted with the invalid parameter ${refused}.`);
    if (typeof parameters.Image !== 'string') throw badRequest('ActionParameterMissing', 'The action InsertMedia requires the parameter Image.');
    if (parameters.Inserted === false) throw badRequest('ActionParameterValueError', 'Inserted must be true.');
    if (this.host.virtualMedia) throw new RedfishError(409, 'ResourceInUse', 'Virtual media is already inserted; eject it first.');
    this.host.fetchingMedia(parameters.Image);
    const image = await downloadImage(parameters.Image, { allowSelfSigned: this.config.mediaAllowSelfSigned, maxBytes: this.config.mediaMaxBytes });
    this.host.insertMedia({ name: image.name, url: parameters.Image, bytes: image.bytes });
    this.version++;
  }

  eject(): void {
    if (!this.host.virtualMedia) throw badRequest('ActionNotSupported', 'No virtual media is inserted.');
    this.host.ejectMedia();
    this.version++;
  }

  /** PATCH Image/Inserted: the only way to mount on BMCs without InsertMedia (sushy's fallback). The caller checked If-Match. */
  async patch(body: unknown): Promise<void> {
    const parameters = (body ?? {}) as Record<string, unknown>;
    if (this.config.faults.virtualMediaStoresPatch) {
      const current = this.stored ?? { image: null, inserted: false };
      this.stored = {
        image: 'Image' in parameters ? (typeof parameters.Image === 'string' ? parameters.Image : null) : current.image,
        inserted: 'Inserted' in parameters ? parameters.Inserted === true : current.inserted,
      };
      this.version++;
      return;
    }
    if (parameters.Image === null || parameters.Inserted === false) this.eject();
    else if (typeof parameters.Image === 'string') await this.insert({ Image: parameters.Image });
    else throw badRequest('PropertyMissing', 'Image or Inserted is required.');
  }
}

import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { RedfishError } from './errors.js';

/**
 * Fetches a virtual media image the way a BMC streaming a CD would: read the
 * whole URL once, counting bytes, to prove it is reachable and readable.
 * Nothing is stored. ISO 9660 images are recognised by "CD001" at 0x8001.
 */
export interface DownloadedImage {
  name: string;
  bytes: number;
  iso9660: boolean;
}

const ISO_SIGNATURE_OFFSET = 0x8001;
const DOWNLOAD_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 3;

export async function downloadImage(url: string, options: { allowSelfSigned: boolean; maxBytes: number }): Promise<DownloadedImage> {
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    throw new RedfishError(400, 'PropertyValueFormatError', `The value '${url}' for the property Image is not a URL.`);
  }
  for (let redirect = 0; redirect <= MAX_REDIRECTS; redirect++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new RedfishError(400, 'ActionParameterNotSupported', `Transfer protocol ${current.protocol} is not supported; use HTTP or HTTPS.`);
    }
    const response = await request(current, options.allowSelfSigned);
    if (response.statusCode !== undefined && response.statusCode >= 300 && response.statusCode < 400 && response.headers.location) {
      response.resume();
      current = new URL(response.headers.location, current);
      continue;
    }
    if (response.statusCode !== 200) {
      response.resume();
      throw new RedfishError(400, 'ResourceAtUriUnauthorized', `Image ${current.href} answered HTTP ${response.statusCode}.`);
    }
    return count(response, current, options.maxBytes);
  }
  throw new RedfishError(400, 'CouldNotEstablishConnection', `Too many redirects for ${url}.`);
}

function request(url: URL, allowSelfSigned: boolean): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => resolve(response);
    const call = url.protocol === 'https:' ? httpsGet(url, { rejectUnauthorized: !allowSelfSigned, timeout: DOWNLOAD_TIMEOUT_MS }, onResponse) : httpGet(url, { timeout: DOWNLOAD_TIMEOUT_MS }, onResponse);
    call.on('timeout', () => call.destroy(new Error('timed out')));
    call.on('error', (error) => reject(new RedfishError(400, 'CouldNotEstablishConnection', `Could not fetch ${url.href}: ${error.message}`)));
  });
}

function count(response: IncomingMessage, url: URL, maxBytes: number): Promise<DownloadedImage> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let signature = '';
    response.on('data', (chunk: Buffer) => {
      // Look for the ISO 9660 primary volume descriptor while streaming past it.
      if (bytes + chunk.length > ISO_SIGNATURE_OFFSET && bytes < ISO_SIGNATURE_OFFSET + 5) {
        const start = Math.max(0, ISO_SIGNATURE_OFFSET - bytes);
        signature += chunk.subarray(start, start + 5 - signature.length).toString('latin1');
      }
      bytes += chunk.length;
      if (bytes > maxBytes) response.destroy(new Error(`image is larger than ${maxBytes} bytes`));
    });
    response.on('error', (error) => reject(new RedfishError(400, 'CouldNotEstablishConnection', `Reading ${url.href} failed: ${error.message}`)));
    response.on('end', () => {
      if (bytes === 0) return reject(new RedfishError(400, 'ActionParameterValueError', `Image ${url.href} is empty.`));
      const name = decodeURIComponent(url.pathname.split('/').filter(Boolean).at(-1) ?? url.hostname);
      resolve({ name, bytes, iso9660: signature === 'CD001' });
    });
  });
}

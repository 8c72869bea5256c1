import { describe, expect, it } from 'vitest';
import { type TusHttpRequest, type TusHttpResponse, type TusHttpStack, UPLOAD_URL_HEADER, UploadRoutes } from './upload-routes.js';

const ID = '0123456789abcdef0123456789abcdef';
const DEPLOYMENT = 'https://lightsout.example.net';
const GATEWAY_A = `https://gw-a.example.net/v1/media/uploads/${ID}`;
const GATEWAY_B = `https://gw-b.example.net/v1/media/uploads/${ID}`;

/** A base stack that answers from a script and records where each request went. */
function scriptedStack(answer: (method: string, url: string) => { status: number; headers?: Record<string, string> } | 'network-error') {
  const sent: string[] = [];
  const stack: TusHttpStack = {
    getName: () => 'scripted',
    createRequest(method, url): TusHttpRequest {
      const headers = new Map<string, string>();
      return {
        getMethod: () => method,
        getURL: () => url,
        setHeader: (header, value) => void headers.set(header, value),
        getHeader: (header) => headers.get(header),
        setProgressHandler: () => undefined,
        async send(): Promise<TusHttpResponse> {
          sent.push(`${method} ${url} ${headers.get('Upload-Offset') ?? ''}`.trim());
          const result = answer(method, url);
          if (result === 'network-error') throw new Error('connect ECONNREFUSED');
          return { getStatus: () => result.status, getHeader: (header) => result.headers?.[header], getBody: () => '', getUnderlyingObject: () => undefined };
        },
        abort: async () => undefined,
        getUnderlyingObject: () => undefined,
      };
    },
  };
  return { stack, sent };
}

describe('UploadRoutes', () => {
  it('after a PATCH that got no answer, the next HEAD asks the deployment, and the PATCHes go where it says', async () => {
    let gatewayAUp = true;
    const { stack, sent } = scriptedStack((method, url) => {
      if (url.startsWith('https://gw-a.') && !gatewayAUp) return 'network-error';
      if (method === 'HEAD' && url.startsWith(DEPLOYMENT)) return { status: 200, headers: { 'Upload-Offset': '16', [UPLOAD_URL_HEADER]: GATEWAY_B } };
      return { status: 204 };
    });
    const routes = new UploadRoutes(stack, `${DEPLOYMENT}/`);
    const patch = (offset: string) => {
      const request = routes.createRequest('PATCH', GATEWAY_A);
      request.setHeader('Upload-Offset', offset);
      return request.send(new Uint8Array(16));
    };
    expect((await patch('0')).getStatus()).toBe(204);
    gatewayAUp = false;
    await expect(patch('16')).rejects.toThrow('ECONNREFUSED');
    expect((await routes.createRequest('HEAD', GATEWAY_A).send()).getHeader('Upload-Offset')).toBe('16');
    expect((await patch('16')).getStatus()).toBe(204);
    expect(sent).toEqual([`PATCH ${GATEWAY_A} 0`, `PATCH ${GATEWAY_A} 16`, `HEAD ${DEPLOYMENT}/v1/media/uploads/${ID}`, `PATCH ${GATEWAY_B} 16`]);
  });

  it('421 WRONG_GATEWAY and 5xx count as lost; a HEAD answered 423 (the agent between gateways) is asked at the deployment again; a URL that is no upload is left alone', async () => {
    const statuses = [421, 502, 423, 409];
    const { stack, sent } = scriptedStack(() => ({ status: statuses.shift() ?? 200 }));
    const routes = new UploadRoutes(stack, DEPLOYMENT);
    await routes.createRequest('PATCH', GATEWAY_A).send();
    expect(routes.lost.has(ID)).toBe(true);
    await routes.createRequest('HEAD', GATEWAY_A).send();
    // the 502 answered the deployment's HEAD: still lost, asked there again
    expect(routes.lost.has(ID)).toBe(true);
    await routes.createRequest('HEAD', GATEWAY_A).send();
    expect(routes.lost.has(ID)).toBe(true);
    // 409 (a stale offset) is not lost: the next HEAD, answered 200, settles it
    await routes.createRequest('HEAD', GATEWAY_A).send();
    await routes.createRequest('HEAD', GATEWAY_A).send();
    expect(routes.lost.has(ID)).toBe(false);
    await routes.createRequest('POST', `${DEPLOYMENT}/v1/media/uploads`).send();
    const deploymentHead = `HEAD ${DEPLOYMENT}/v1/media/uploads/${ID}`;
    expect(sent).toEqual([`PATCH ${GATEWAY_A}`, deploymentHead, deploymentHead, deploymentHead, deploymentHead, `POST ${DEPLOYMENT}/v1/media/uploads`]);
  });
});

/**
 * Redfish error bodies (DSP0266 §9.6 "Error responses") with Base registry
 * message IDs, so clients that parse @Message.ExtendedInfo see real shapes.
 */
export class RedfishError extends Error {
  constructor(
    readonly status: number,
    readonly messageId: string,
    message: string,
  ) {
    super(message);
  }
}

export function errorBody(status: number, messageId: string, message: string): unknown {
  return {
    error: {
      code: `Base.1.13.0.${messageId}`,
      message,
      '@Message.ExtendedInfo': [
        {
          '@odata.type': '#Message.v1_1_1.Message',
          MessageId: `Base.1.13.0.${messageId}`,
          Message: message,
          Severity: status >= 500 ? 'Critical' : 'Warning',
          Resolution: status === 401 ? 'Log in again and resubmit the request.' : 'Correct the request and resubmit.',
        },
      ],
    },
  };
}

export const notFound = (path: string) => new RedfishError(404, 'ResourceNotFound', `The requested resource ${path} was not found.`);
export const badRequest = (messageId: string, message: string) => new RedfishError(400, messageId, message);

import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { BulkService, PowerService, ServerService, reflectionV1 } from '@lightsout/shared/rpc';
import { describe, expect, it } from 'vitest';
import { type ReflectionResponse, ReflectionIndex } from './reflection.js';

const index = new ReflectionIndex([ServerService, PowerService, BulkService, reflectionV1.ServerReflection]);

function files(response: ReflectionResponse): Array<{ name: string; services: string[]; dependencies: string[] }> {
  if (response.case !== 'fileDescriptorResponse') throw new Error(`expected files, got ${JSON.stringify(response)}`);
  return response.value.fileDescriptorProto.map((bytes) => {
    const file = fromBinary(FileDescriptorProtoSchema, bytes);
    return { name: file.name, services: file.service.map((service) => service.name), dependencies: file.dependency };
  });
}

describe('server reflection', () => {
  it('lists the served services by full name', () => {
    expect(index.answer({ case: 'listServices', value: '' })).toEqual({
      case: 'listServicesResponse',
      value: { service: [{ name: 'grpc.reflection.v1.ServerReflection' }, { name: 'lightsout.v1.BulkService' }, { name: 'lightsout.v1.PowerService' }, { name: 'lightsout.v1.ServerService' }] },
    });
  });

  it('answers a service, a method, a message, an enum value and a field with the defining file first, then every file it imports', () => {
    const power = files(index.answer({ case: 'fileContainingSymbol', value: 'lightsout.v1.PowerService' }));
    expect(power[0]).toMatchObject({ name: 'lightsout/v1/power.proto', services: ['PowerService'] });
    // every import is there, so a client can build the descriptors without the .proto files
    const names = new Set(power.map((file) => file.name));
    for (const file of power) for (const dependency of file.dependencies) expect(names).toContain(dependency);
    expect(files(index.answer({ case: 'fileContainingSymbol', value: 'lightsout.v1.PowerService.SetPower' }))[0]!.name).toBe('lightsout/v1/power.proto');
    expect(files(index.answer({ case: 'fileContainingSymbol', value: '.lightsout.v1.ListServersRequest' }))[0]!.name).toBe('lightsout/v1/server.proto');
    expect(files(index.answer({ case: 'fileContainingSymbol', value: 'lightsout.v1.POWER_STATE_ON' }))[0]!.name).toBe('lightsout/v1/types.proto');
    expect(files(index.answer({ case: 'fileByFilename', value: 'lightsout/v1/bulk.proto' }))[0]).toMatchObject({ name: 'lightsout/v1/bulk.proto', services: ['BulkService'] });
  });

  it('answers what it does not hold with NOT_FOUND, and a malformed name with INVALID_ARGUMENT, never a descriptor', () => {
    expect(index.answer({ case: 'fileContainingSymbol', value: 'lightsout.v1.NoSuchService' })).toMatchObject({ case: 'errorResponse', value: { errorCode: 5 } });
    expect(index.answer({ case: 'fileByFilename', value: '../../etc/passwd' })).toMatchObject({ case: 'errorResponse', value: { errorCode: 5 } });
    expect(index.answer({ case: 'fileContainingSymbol', value: 'a..b' })).toMatchObject({ case: 'errorResponse', value: { errorCode: 3 } });
    expect(index.answer({ case: 'fileContainingExtension', value: { containingType: 'lightsout.v1.Server', extensionNumber: 100 } })).toMatchObject({ case: 'errorResponse', value: { errorCode: 5 } });
    expect(index.answer({ case: 'allExtensionNumbersOfType', value: 'lightsout.v1.Server' })).toEqual({ case: 'allExtensionNumbersResponse', value: { baseTypeName: 'lightsout.v1.Server', extensionNumber: [] } });
    expect(index.answer({ case: undefined })).toMatchObject({ case: 'errorResponse', value: { errorCode: 3 } });
  });
});

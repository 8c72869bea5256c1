import { type DescFile, type DescService, createRegistry, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';

/**
 * gRPC server reflection (grpc/reflection/v1 and v1alpha, the same messages
 * in two packages; https://github.com/grpc/grpc/blob/master/doc/server-reflection.md):
 * what grpcurl, Postman, grpcui and Kreya ask to list the services and fetch
 * their descriptors without the .proto files. Pure: a request in, a response
 * out, from the descriptors the generated code embeds (protoc-gen-es).
 *
 *   list_services                 ─▶ the full names of the served services
 *   file_by_filename              ─▶ that file and every file it imports (serialized FileDescriptorProto)
 *   file_containing_symbol        ─▶ the same for the file defining a service, method, message, enum or field
 *   all_extension_numbers_of_type ─▶ none (no message here is extended), for a known message
 *   file_containing_extension     ─▶ NOT_FOUND (none defined)
 *   anything else, or unknown     ─▶ error_response with a gRPC status code
 */
export type ReflectionRequest =
  | { case: 'fileByFilename'; value: string }
  | { case: 'fileContainingSymbol'; value: string }
  | { case: 'fileContainingExtension'; value: { containingType: string; extensionNumber: number } }
  | { case: 'allExtensionNumbersOfType'; value: string }
  | { case: 'listServices'; value: string }
  | { case: undefined; value?: undefined };

export type ReflectionResponse =
  | { case: 'fileDescriptorResponse'; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: 'allExtensionNumbersResponse'; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: 'listServicesResponse'; value: { service: Array<{ name: string }> } }
  | { case: 'errorResponse'; value: { errorCode: number; errorMessage: string } };

/** gRPC status codes an error_response carries (grpc/doc/statuscodes.md). */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
/** A symbol name as clients send it: dotted identifiers, bounded (the request is attacker-sized otherwise). */
const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const MAX_NAME_LENGTH = 512;

export class ReflectionIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly messages = new Set<string>();
  private readonly services: string[];

  constructor(served: readonly DescService[]) {
    this.services = [...new Set(served.map((service) => service.typeName))].sort();
    const visit = (file: DescFile): void => {
      // DescFile.name drops the .proto suffix; clients ask by the file's path as the import names it.
      if (this.files.has(file.proto.name)) return;
      this.files.set(file.proto.name, file);
      for (const dependency of file.dependencies) visit(dependency);
    };
    for (const service of served) visit(service.file);
    const registry = createRegistry(...this.files.values());
    for (const type of registry) {
      this.symbols.set(type.typeName, type.file);
      if (type.kind === 'message') {
        this.messages.add(type.typeName);
        for (const field of type.fields) this.symbols.set(`${type.typeName}.${field.name}`, type.file);
      } else if (type.kind === 'service') {
        for (const method of type.methods) this.symbols.set(`${type.typeName}.${method.name}`, type.file);
      } else if (type.kind === 'enum') {
        // Enum values are scoped like siblings of the enum (protobuf's C++ scoping rule).
        const scope = type.typeName.slice(0, Math.max(0, type.typeName.lastIndexOf('.')));
        for (const value of type.values) this.symbols.set(scope === '' ? value.name : `${scope}.${value.name}`, type.file);
      }
    }
  }

  answer(request: ReflectionRequest): ReflectionResponse {
    switch (request.case) {
      case 'listServices':
        return { case: 'listServicesResponse', value: { service: this.services.map((name) => ({ name })) } };
      case 'fileByFilename': {
        const file = this.files.get(request.value);
        return file === undefined ? notFound(`no file ${clip(request.value)}`) : this.fileResponse(file);
      }
      case 'fileContainingSymbol': {
        const symbol = request.value.replace(/^\./, '');
        if (symbol.length > MAX_NAME_LENGTH || !SYMBOL.test(symbol)) return error(INVALID_ARGUMENT, 'not a symbol name');
        const file = this.symbols.get(symbol);
        return file === undefined ? notFound(`no symbol ${symbol}`) : this.fileResponse(file);
      }
      case 'allExtensionNumbersOfType': {
        const type = request.value.replace(/^\./, '');
        return this.messages.has(type) ? { case: 'allExtensionNumbersResponse', value: { baseTypeName: type, extensionNumber: [] } } : notFound(`no message type ${clip(type)}`);
      }
      case 'fileContainingExtension':
        return notFound(`no extension ${request.value.extensionNumber} of ${clip(request.value.containingType)}`);
      case undefined:
        return error(INVALID_ARGUMENT, 'the request names no query');
    }
  }

  /** The file and everything it imports, the file itself first (the order grpc-go and grpc-java answer in). */
  private fileResponse(file: DescFile): ReflectionResponse {
    const ordered: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (next: DescFile): void => {
      if (seen.has(next.proto.name)) return;
      seen.add(next.proto.name);
      ordered.push(next);
      for (const dependency of next.dependencies) visit(dependency);
    };
    visit(file);
    return { case: 'fileDescriptorResponse', value: { fileDescriptorProto: ordered.map((entry) => toBinary(FileDescriptorProtoSchema, entry.proto)) } };
  }
}

function clip(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}

function error(errorCode: number, errorMessage: string): ReflectionResponse {
  return { case: 'errorResponse', value: { errorCode, errorMessage } };
}

function notFound(message: string): ReflectionResponse {
  return error(NOT_FOUND, message);
}

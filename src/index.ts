/**
 * zerosend: the kernel's zero-copy transfers for Node.js.
 */
export { transfer } from './transfer/transfer';
export { proxy, type ProxyError, type ProxyOptions, type ProxyResult } from './relay/proxy';
export type { SocketTransferOptions, SocketTransferProgress } from './relay/socket-transfer';
export { capabilities, type Capabilities } from './binding/capabilities';
export { AbortError, ZerosendError } from './errors';
export type {
  Destination,
  FileSource,
  Method,
  TransferOptions,
  TransferProgress,
  TransferResult,
} from './options';
export { serveStatic, type StaticMiddleware, type NextFunction, type ServeStaticOptions, type ServedInfo, type BodyMethod } from './http/serve-static';
export { createStaticServer, type StaticServerOptions } from './http/server';
export { sendFile, type SendFileOptions, type SendFileResult } from './http/send-file';
export type { HttpError } from './http/http-error';
export type { ResponseOptions } from './http/response-options';

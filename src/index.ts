/**
 * zerosend: the kernel's zero-copy transfers for Node.js.
 */
export { transfer } from './transfer';
export { capabilities, type Capabilities } from './capabilities';
export { AbortError, ZerosendError } from './errors';
export type {
  Destination,
  FileSource,
  Method,
  TransferOptions,
  TransferProgress,
  TransferResult,
} from './options';

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError } from 'fastify';
import { StreamdeskError } from '../errors.js';

/** Longest path segment fastify matches (a ticket id of 128 characters, percent-encoded, fits). */
export const maxParamLength = 512;

/** Maps whatever fastify or a handler threw to a catalogue error. */
export function toHttpError(error: FastifyError | StreamdeskError): StreamdeskError {
  if (error instanceof StreamdeskError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new StreamdeskError('PAYLOAD_TOO_LARGE', 'The request body is larger than 256 KiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new StreamdeskError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new StreamdeskError('MALFORMED_REQUEST', 'The body length does not match Content-Length');
    case 'FST_ERR_BAD_URL':
      return new StreamdeskError('INVALID_URL', 'The URL path is not validly percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new StreamdeskError(
        'URI_TOO_LONG',
        `A path segment of the URL is longer than ${maxParamLength} characters`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new StreamdeskError('INVALID_JSON', 'The request body is not valid JSON');
  }
  if (error.statusCode === 404) return new StreamdeskError('NOT_FOUND');
  if (error.statusCode === 415)
    return new StreamdeskError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json');
  if (error.statusCode === 414) return new StreamdeskError('URI_TOO_LONG');
  if (error.statusCode === 413)
    return new StreamdeskError('PAYLOAD_TOO_LARGE', 'The request body is larger than 256 KiB');
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
    return new StreamdeskError('BAD_REQUEST', error.message);
  return new StreamdeskError('INTERNAL');
}

/** The one error shape every client sees. */
export function errorBody(error: StreamdeskError): { error: { code: string; message: string; details?: unknown } } {
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

/** Errors node's HTTP parser raises before fastify sees a request (bad framing, oversized headers, timeouts). */
function connectionError(error: Error & { code?: string }): StreamdeskError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new StreamdeskError('REQUEST_TIMEOUT', 'The request headers and body were not received in time');
    case 'HPE_HEADER_OVERFLOW':
      return new StreamdeskError('HEADERS_TOO_LARGE', 'The request line and headers are larger than 16 KiB');
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new StreamdeskError('MALFORMED_REQUEST', 'The Content-Length header is not valid');
    default:
      return new StreamdeskError(
        'MALFORMED_REQUEST',
        `The request is not valid HTTP/1.1${error.code?.startsWith('HPE_') ? ` (${error.code})` : ''}`,
      );
  }
}

/** Answers a request node's parser refused (fastify's clientErrorHandler), in the documented shape, and closes the connection. */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const failure = connectionError(error);
  const body = JSON.stringify(errorBody(failure));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';

/**
 * Every span attribute name streamdesk writes. Stable semantic conventions come from the package;
 * the messaging and gen_ai names are still "development" status upstream, so they are copied here
 * (as OpenTelemetry advises) rather than imported from the incubating entry point, which may
 * rename them in any minor release.
 */
export const Attr = {
  // streamdesk's own
  tenantId: 'streamdesk.tenant.id',
  ticketId: 'streamdesk.ticket.id',
  eventId: 'streamdesk.event.id',
  eventType: 'streamdesk.event.type',
  /** 1 for the first handler run of an entry, then the retry number. */
  attempt: 'streamdesk.attempt',
  /** The stream entry id (`1700000000000-0`) beside the event id. */
  streamEntryId: 'streamdesk.stream.entry_id',
  /** Events applied in the same projection transaction. */
  batchSize: 'streamdesk.batch.size',
  /** A repeated webhook delivery: nothing was appended. */
  duplicate: 'streamdesk.webhook.duplicate',
  replayId: 'streamdesk.replay.id',
  writebackTarget: 'streamdesk.writeback.target',
  /** Resource attribute: the role the process runs (all, ingest, worker, projector). */
  role: 'streamdesk.role',

  // stable semantic conventions
  serviceName: ATTR_SERVICE_NAME,
  errorType: ATTR_ERROR_TYPE,
  serverAddress: ATTR_SERVER_ADDRESS,
  httpResponseStatusCode: ATTR_HTTP_RESPONSE_STATUS_CODE,

  // messaging semantic conventions
  messagingSystem: 'messaging.system',
  messagingDestinationName: 'messaging.destination.name',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingMessageId: 'messaging.message.id',
  messagingConsumerGroupName: 'messaging.consumer.group.name',
  messagingBatchMessageCount: 'messaging.batch.message_count',

  // gen_ai semantic conventions
  genAiSystem: 'gen_ai.system',
  genAiProviderName: 'gen_ai.provider.name',
  genAiOperationName: 'gen_ai.operation.name',
  genAiRequestModel: 'gen_ai.request.model',
  genAiResponseModel: 'gen_ai.response.model',
  genAiUsageInputTokens: 'gen_ai.usage.input_tokens',
  genAiUsageOutputTokens: 'gen_ai.usage.output_tokens',
} as const;

/** `messaging.system` for Redis Streams. */
export const messagingSystemRedis = 'redis';

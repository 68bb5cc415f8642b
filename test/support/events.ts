/**
 * The events Lambda hands Sundial's functions, built as AWS documents them: SQS records for
 * the worker, API Gateway (REST, proxy integration) requests for the API.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, SQSEvent, SQSRecord } from 'aws-lambda';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

/**
 * One SQS record with the defaults of AWS's example event (a first receive, sent now, on a
 * standard queue); `overrides` replace fields, and `attributes` merge into the defaults.
 */
export function sqsRecord(
  body: string,
  overrides: Partial<Omit<SQSRecord, 'attributes'>> & { attributes?: Partial<SQSRecord['attributes']> } = {},
): SQSRecord {
  const { attributes, ...fields } = overrides;
  const sent = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: `AQEB${randomBytes(96).toString('base64')}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: sent,
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: sent,
      ...attributes,
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:my-queue`,
    awsRegion: REGION,
    ...fields,
  };
}

export function sqsEvent(records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** Messages received from a queue, as Lambda's event source mapping would hand them over. */
export function sqsEventOf(messages: Message[], queueArn: string): SQSEvent {
  return sqsEvent(
    messages.map((m) =>
      sqsRecord(m.Body ?? '', {
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        ...(m.MD5OfBody ? { md5OfBody: m.MD5OfBody } : {}),
        eventSourceARN: queueArn,
        attributes: m.Attributes ?? {},
      }),
    ),
  );
}

export interface ApiRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | null;
  /** API Gateway's request id, which Sundial takes as the correlation id. */
  requestId?: string;
  /** The caller's address; none by default (failed authentications are limited per address). */
  sourceIp?: string;
}

/** An API Gateway REST request through a `/{proxy+}` resource, as the api function gets it. */
export function apiGatewayEvent({
  method,
  path,
  query = {},
  headers = {},
  body = null,
  requestId = randomUUID(),
  sourceIp,
}: ApiRequest): APIGatewayProxyEvent {
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters:
      Object.keys(query).length > 0
        ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]]))
        : null,
    pathParameters: { proxy: path.replace(/^\//, '') },
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'local',
      stage: 'v1',
      protocol: 'HTTP/1.1',
      httpMethod: method,
      path,
      resourceId: 'proxy',
      resourcePath: '/{proxy+}',
      requestId,
      requestTimeEpoch: Date.now(),
      authorizer: null,
      identity: { sourceIp } as APIGatewayProxyEvent['requestContext']['identity'],
    },
  };
}

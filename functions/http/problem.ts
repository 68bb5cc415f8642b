/** RFC 9457 problem+json responses. */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { FieldError } from '../domain/errors.js';

export const PROBLEM_BASE = 'https://sundial.dev/problems/';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  extra: Partial<Problem> = {},
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  const body: Problem = { type: `${PROBLEM_BASE}${slug}`, title, status, detail, ...extra };
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: JSON.stringify(body),
  };
}

export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

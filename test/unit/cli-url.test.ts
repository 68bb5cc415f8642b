/** The CLI sends an API key only over https, or over plain http to this machine. */
import { describe, expect, it } from 'vitest';
import { checkUrl, UsageError } from '../../cli/context.js';

describe('checkUrl', () => {
  it('takes https anywhere and http on loopback (the local runtime)', () => {
    for (const url of [
      'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
      'http://localhost:3000',
      'http://127.0.0.1:3300',
      'http://[::1]:3000',
    ]) {
      expect(() => checkUrl(url, {}), url).not.toThrow();
    }
  });

  it('refuses plain http to another host, look-alikes of loopback included, naming the host', () => {
    for (const url of ['http://sundial.internal:3000', 'http://127.0.0.1.evil.example', 'http://10.0.0.5']) {
      expect(() => checkUrl(url, {}), url).toThrow(UsageError);
    }
    expect(() => checkUrl('http://sundial.internal:3000', {})).toThrow(
      /refusing to send the API key in clear to sundial.internal:3000/,
    );
    // Unless the operator says so.
    expect(() =>
      checkUrl('http://sundial.internal:3000', { SUNDIAL_ALLOW_INSECURE_HTTP: '1' }),
    ).not.toThrow();
  });

  it('refuses what is not an http(s) URL at all', () => {
    expect(() => checkUrl('sundial.example.com', {})).toThrow(/must be absolute/);
    expect(() => checkUrl('ftp://sundial.example.com', {})).toThrow(/must be https:\/\//);
  });
});

/**
 * Schedule expressions against hand-worked expectations. Calendar facts used below (2026):
 * Jan 1 is a Thursday; Aug 1 and Aug 15 are Saturdays; May 31 is a Sunday; Jan 31 and
 * Feb 28 are Saturdays. DST: New York springs forward 2026-03-08 02:00 EST -> 03:00 EDT and
 * falls back 2026-11-01 02:00 EDT -> 01:00 EST; Berlin springs forward 2026-03-29
 * 02:00 CET -> 03:00 CEST and falls back 2026-10-25 03:00 CEST -> 02:00 CET.
 */
import { describe, expect, it } from 'vitest';
import { nextFireTimes, parseScheduleExpression } from '../../functions/domain/schedule/index.js';

interface Case {
  expression: string;
  timezone?: string;
  after: string;
  count?: number;
  startAt?: string;
  endAt?: string;
  createdAt?: string;
  expected: string[];
}

const z = (s: string) => `${s}:00.000Z`;

const cases: [string, Case][] = [
  // Plain fields, lists, ranges and steps.
  [
    'daily at noon',
    {
      expression: 'cron(0 12 * * ? *)',
      after: z('2026-01-01T00:00'),
      count: 2,
      expected: [z('2026-01-01T12:00'), z('2026-01-02T12:00')],
    },
  ],
  [
    'minute step from 0, after is exclusive',
    {
      expression: 'cron(0/15 * * * ? *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-01T00:15'), z('2026-01-01T00:30'), z('2026-01-01T00:45')],
    },
  ],
  [
    'star step within one hour',
    {
      expression: 'cron(*/20 9 * * ? *)',
      after: z('2026-01-01T09:10'),
      expected: [z('2026-01-01T09:20'), z('2026-01-01T09:40'), z('2026-01-02T09:00')],
    },
  ],
  [
    'range with step',
    {
      expression: 'cron(10-40/10 8 * * ? *)',
      after: z('2026-01-01T00:00'),
      count: 5,
      expected: [
        z('2026-01-01T08:10'),
        z('2026-01-01T08:20'),
        z('2026-01-01T08:30'),
        z('2026-01-01T08:40'),
        z('2026-01-02T08:10'),
      ],
    },
  ],
  [
    'hour list',
    {
      expression: 'cron(0 8,12,18 * * ? *)',
      after: z('2026-01-01T10:00'),
      expected: [z('2026-01-01T12:00'), z('2026-01-01T18:00'), z('2026-01-02T08:00')],
    },
  ],
  [
    'weekdays by name',
    {
      expression: 'cron(0 9 ? * MON-FRI *)',
      after: z('2026-01-02T10:00'),
      expected: [z('2026-01-05T09:00'), z('2026-01-06T09:00'), z('2026-01-07T09:00')],
    },
  ],
  [
    'weekdays by number (1 = SUN)',
    {
      expression: 'cron(0 9 ? * 2-6 *)',
      after: z('2026-01-02T10:00'),
      expected: [z('2026-01-05T09:00'), z('2026-01-06T09:00'), z('2026-01-07T09:00')],
    },
  ],
  [
    'weekend list',
    {
      expression: 'cron(0 9 ? * SAT,SUN *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-03T09:00'), z('2026-01-04T09:00'), z('2026-01-10T09:00')],
    },
  ],
  [
    'names are case-insensitive',
    {
      expression: 'cron(0 9 ? * mon *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-05T09:00'), z('2026-01-12T09:00'), z('2026-01-19T09:00')],
    },
  ],
  [
    'month range by name',
    {
      expression: 'cron(0 0 1 JAN-MAR ? *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-02-01T00:00'), z('2026-03-01T00:00'), z('2027-01-01T00:00')],
    },
  ],
  [
    'month step',
    {
      expression: 'cron(0 0 1 */4 ? *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-05-01T00:00'), z('2026-09-01T00:00'), z('2027-01-01T00:00')],
    },
  ],
  [
    'day-of-month list',
    {
      expression: 'cron(0 6 1,15 * ? *)',
      after: z('2026-01-01T07:00'),
      expected: [z('2026-01-15T06:00'), z('2026-02-01T06:00'), z('2026-02-15T06:00')],
    },
  ],
  [
    'every minute',
    {
      expression: 'cron(* * * * ? *)',
      after: z('2026-01-01T00:00'),
      count: 2,
      expected: [z('2026-01-01T00:01'), z('2026-01-01T00:02')],
    },
  ],
  [
    'spaces between fields are tolerated',
    {
      expression: 'cron(0  12 * *  ? *)',
      after: z('2026-01-01T00:00'),
      count: 1,
      expected: [z('2026-01-01T12:00')],
    },
  ],
  // L, W and #.
  [
    'L: last day of month',
    {
      expression: 'cron(0 0 L * ? *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-31T00:00'), z('2026-02-28T00:00'), z('2026-03-31T00:00')],
    },
  ],
  [
    'L in February across a leap year',
    {
      expression: 'cron(0 0 L 2 ? *)',
      after: z('2027-03-01T00:00'),
      expected: [z('2028-02-29T00:00'), z('2029-02-28T00:00'), z('2030-02-28T00:00')],
    },
  ],
  [
    '15W on a Saturday moves to Friday',
    {
      expression: 'cron(0 9 15W * ? *)',
      after: z('2026-08-01T00:00'),
      expected: [z('2026-08-14T09:00'), z('2026-09-15T09:00'), z('2026-10-15T09:00')],
    },
  ],
  [
    '1W on a Saturday moves to Monday the 3rd',
    {
      expression: 'cron(0 9 1W * ? *)',
      after: z('2026-07-31T12:00'),
      count: 1,
      expected: [z('2026-08-03T09:00')],
    },
  ],
  [
    '31W on a Sunday moves back to Friday',
    {
      expression: 'cron(0 9 31W 5 ? *)',
      after: z('2026-05-01T00:00'),
      count: 1,
      expected: [z('2026-05-29T09:00')],
    },
  ],
  [
    'LW: last weekday of the month',
    {
      expression: 'cron(0 9 LW * ? *)',
      after: z('2026-01-01T00:00'),
      count: 2,
      expected: [z('2026-01-30T09:00'), z('2026-02-27T09:00')],
    },
  ],
  [
    '30W never exists in February',
    { expression: 'cron(0 9 30W 2 ? *)', after: z('2026-01-01T00:00'), count: 1, expected: [] },
  ],
  [
    'L-2: two days before the last day',
    {
      expression: 'cron(0 0 L-2 * ? *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-29T00:00'), z('2026-02-26T00:00'), z('2026-03-29T00:00')],
    },
  ],
  [
    'L-30 never exists in February',
    { expression: 'cron(0 0 L-30 2 ? *)', after: z('2026-01-01T00:00'), count: 1, expected: [] },
  ],
  [
    '6L: last Friday',
    {
      expression: 'cron(0 10 ? * 6L *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-30T10:00'), z('2026-02-27T10:00'), z('2026-03-27T10:00')],
    },
  ],
  [
    'L in day-of-week: Saturday',
    {
      expression: 'cron(0 10 ? * L *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-03T10:00'), z('2026-01-10T10:00'), z('2026-01-17T10:00')],
    },
  ],
  [
    '2#1: first Monday',
    {
      expression: 'cron(0 10 ? * 2#1 *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-05T10:00'), z('2026-02-02T10:00'), z('2026-03-02T10:00')],
    },
  ],
  [
    'TUE#2: second Tuesday',
    {
      expression: 'cron(0 10 ? * TUE#2 *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-13T10:00'), z('2026-02-10T10:00'), z('2026-03-10T10:00')],
    },
  ],
  [
    '6#5: only months with five Fridays',
    {
      expression: 'cron(0 10 ? * 6#5 *)',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-01-30T10:00'), z('2026-05-29T10:00'), z('2026-07-31T10:00')],
    },
  ],
  // Leap years and the year field.
  [
    '29 February only in leap years',
    {
      expression: 'cron(0 0 29 2 ? *)',
      after: z('2026-01-01T00:00'),
      count: 2,
      expected: [z('2028-02-29T00:00'), z('2032-02-29T00:00')],
    },
  ],
  [
    '2100 is not a leap year',
    { expression: 'cron(0 0 29 2 ? 2100)', after: z('2026-01-01T00:00'), count: 1, expected: [] },
  ],
  [
    'leap day skips 2100 in a year range',
    {
      expression: 'cron(0 0 29 2 ? 2000-2199)',
      after: z('2096-03-01T00:00'),
      count: 1,
      expected: [z('2104-02-29T00:00')],
    },
  ],
  [
    'a single future year',
    { expression: 'cron(0 0 1 1 ? 2030)', after: z('2026-01-01T00:00'), expected: [z('2030-01-01T00:00')] },
  ],
  [
    'a past year never fires again',
    { expression: 'cron(0 0 1 1 ? 2020)', after: z('2026-01-01T00:00'), expected: [] },
  ],
  [
    'year list',
    {
      expression: 'cron(0 0 1 1 ? 2027,2029)',
      after: z('2026-01-01T00:00'),
      expected: [z('2027-01-01T00:00'), z('2029-01-01T00:00')],
    },
  ],
  [
    'year step',
    {
      expression: 'cron(0 0 1 1 ? 2030/5)',
      after: z('2026-01-01T00:00'),
      expected: [z('2030-01-01T00:00'), z('2035-01-01T00:00'), z('2040-01-01T00:00')],
    },
  ],
  [
    'the last year AWS accepts',
    { expression: 'cron(0 0 1 1 ? 2199)', after: z('2198-06-01T00:00'), expected: [z('2199-01-01T00:00')] },
  ],
  [
    '30 February never fires',
    { expression: 'cron(0 0 30 2 ? *)', after: z('2026-01-01T00:00'), count: 1, expected: [] },
  ],
  // Daylight saving: America/New_York.
  [
    'NY: 02:30 skipped on spring-forward day',
    {
      expression: 'cron(30 2 * * ? *)',
      timezone: 'America/New_York',
      after: z('2026-03-06T12:00'),
      expected: [z('2026-03-07T07:30'), z('2026-03-09T06:30'), z('2026-03-10T06:30')],
    },
  ],
  [
    'NY: 03:00 exists on spring-forward day',
    {
      expression: 'cron(0 3 * * ? *)',
      timezone: 'America/New_York',
      after: z('2026-03-06T12:00'),
      expected: [z('2026-03-07T08:00'), z('2026-03-08T07:00'), z('2026-03-09T07:00')],
    },
  ],
  [
    'NY: hourly across spring forward has no 02:00',
    {
      expression: 'cron(0 * * * ? *)',
      timezone: 'America/New_York',
      after: z('2026-03-08T06:00'),
      expected: [z('2026-03-08T07:00'), z('2026-03-08T08:00'), z('2026-03-08T09:00')],
    },
  ],
  [
    'NY: noon moves from 17:00Z to 16:00Z',
    {
      expression: 'cron(0 12 * * ? *)',
      timezone: 'America/New_York',
      after: z('2026-03-07T00:00'),
      count: 2,
      expected: [z('2026-03-07T17:00'), z('2026-03-08T16:00')],
    },
  ],
  [
    'NY: 01:30 runs once on fall-back day',
    {
      expression: 'cron(30 1 * * ? *)',
      timezone: 'America/New_York',
      after: z('2026-10-30T12:00'),
      expected: [z('2026-10-31T05:30'), z('2026-11-01T05:30'), z('2026-11-02T06:30')],
    },
  ],
  [
    'NY: hourly :30 across fall back does not repeat 01:30',
    {
      expression: 'cron(30 * * * ? *)',
      timezone: 'America/New_York',
      after: z('2026-11-01T04:00'),
      count: 4,
      expected: [z('2026-11-01T04:30'), z('2026-11-01T05:30'), z('2026-11-01T07:30'), z('2026-11-01T08:30')],
    },
  ],
  // Daylight saving: Europe/Berlin.
  [
    'Berlin: 02:30 skipped on spring-forward day',
    {
      expression: 'cron(30 2 * * ? *)',
      timezone: 'Europe/Berlin',
      after: z('2026-03-27T12:00'),
      count: 2,
      expected: [z('2026-03-28T01:30'), z('2026-03-30T00:30')],
    },
  ],
  [
    'Berlin: 02:30 runs once on fall-back day',
    {
      expression: 'cron(30 2 * * ? *)',
      timezone: 'Europe/Berlin',
      after: z('2026-10-24T12:00'),
      count: 2,
      expected: [z('2026-10-25T00:30'), z('2026-10-26T01:30')],
    },
  ],
  [
    'Berlin: hourly across fall back skips the repeated 02:00',
    {
      expression: 'cron(0 * * * ? *)',
      timezone: 'Europe/Berlin',
      after: z('2026-10-24T23:00'),
      count: 4,
      expected: [z('2026-10-25T00:00'), z('2026-10-25T02:00'), z('2026-10-25T03:00'), z('2026-10-25T04:00')],
    },
  ],
  [
    'Berlin: Monday 09:00 before and after spring forward',
    {
      expression: 'cron(0 9 ? * MON *)',
      timezone: 'Europe/Berlin',
      after: z('2026-03-20T00:00'),
      count: 2,
      expected: [z('2026-03-23T08:00'), z('2026-03-30T07:00')],
    },
  ],
  [
    'Berlin: 01:00 on 24 Nov is midnight UTC',
    {
      expression: 'cron(0 1 * * ? *)',
      timezone: 'Europe/Berlin',
      after: z('2026-11-23T22:00'),
      count: 1,
      expected: [z('2026-11-24T00:00')],
    },
  ],
  // Zones more than 12 hours from UTC (issue 13, item 10). Auckland falls back on
  // 2026-04-05 03:00 NZDT (+13) -> 02:00 NZST (+12), i.e. at 2026-04-04T14:00Z; Chatham at
  // 03:45 +13:45 -> 02:45 +12:45, the same instant.
  [
    'Auckland: 02:00 on fall-back day fires at the first 02:00 (NZDT)',
    {
      expression: 'cron(0 2 * * ? *)',
      timezone: 'Pacific/Auckland',
      after: z('2026-04-04T00:00'),
      count: 2,
      expected: [z('2026-04-04T13:00'), z('2026-04-05T14:00')],
    },
  ],
  [
    'Auckland: hourly across fall back fires 12:00, 13:00, then 15:00Z',
    {
      expression: 'cron(0 * * * ? *)',
      timezone: 'Pacific/Auckland',
      after: z('2026-04-04T11:30'),
      count: 4,
      expected: [z('2026-04-04T12:00'), z('2026-04-04T13:00'), z('2026-04-04T15:00'), z('2026-04-04T16:00')],
    },
  ],
  [
    'McMurdo keeps New Zealand time',
    {
      expression: 'cron(0 2 * * ? *)',
      timezone: 'Antarctica/McMurdo',
      after: z('2026-04-04T00:00'),
      count: 1,
      expected: [z('2026-04-04T13:00')],
    },
  ],
  [
    'Auckland: 02:30 skipped when clocks spring forward 02:00 -> 03:00 on 2026-09-27',
    {
      expression: 'cron(30 2 * * ? *)',
      timezone: 'Pacific/Auckland',
      after: z('2026-09-25T00:00'),
      count: 2,
      expected: [z('2026-09-25T14:30'), z('2026-09-27T13:30')],
    },
  ],
  [
    'Chatham: 02:15 on fall-back day fires at its first occurrence (+13:45)',
    {
      expression: 'cron(15 2 * * ? *)',
      timezone: 'Pacific/Chatham',
      after: z('2026-04-04T00:00'),
      count: 2,
      expected: [z('2026-04-04T12:30'), z('2026-04-05T13:30')],
    },
  ],
  [
    'Chatham: every 15 minutes through the repeated 02:45-03:44',
    {
      expression: 'cron(0/15 * * * ? *)',
      timezone: 'Pacific/Chatham',
      after: z('2026-04-04T13:40'),
      count: 4,
      expected: [z('2026-04-04T13:45'), z('2026-04-04T15:00'), z('2026-04-04T15:15'), z('2026-04-04T15:30')],
    },
  ],
  [
    'at() in Chatham on fall-back day takes the first 02:15',
    {
      expression: 'at(2026-04-05T02:15:00)',
      timezone: 'Pacific/Chatham',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-04-04T12:30')],
    },
  ],
  [
    'Kiritimati (+14) wall time',
    {
      expression: 'cron(0 9 * * ? *)',
      timezone: 'Pacific/Kiritimati',
      after: z('2026-01-01T00:00'),
      count: 1,
      expected: [z('2026-01-01T19:00')],
    },
  ],
  // Ranges that wrap round the end of their field, as in AWS's cron(0/30 20-2 ? * MON-FRI *).
  [
    'hours 22-2 wrap past midnight',
    {
      expression: 'cron(0 22-2 ? * MON *)',
      after: z('2026-06-08T12:00'),
      count: 5,
      expected: [
        z('2026-06-08T22:00'),
        z('2026-06-08T23:00'),
        z('2026-06-15T00:00'),
        z('2026-06-15T01:00'),
        z('2026-06-15T02:00'),
      ],
    },
  ],
  [
    'day-of-week FRI-MON wraps to Fri, Sat, Sun, Mon',
    {
      expression: 'cron(0 8 ? * FRI-MON *)',
      after: z('2026-06-05T12:00'),
      count: 4,
      expected: [z('2026-06-06T08:00'), z('2026-06-07T08:00'), z('2026-06-08T08:00'), z('2026-06-12T08:00')],
    },
  ],
  [
    'month NOV-FEB wraps over the new year',
    {
      expression: 'cron(0 0 1 NOV-FEB ? *)',
      after: z('2026-06-05T00:00'),
      count: 4,
      expected: [z('2026-11-01T00:00'), z('2026-12-01T00:00'), z('2027-01-01T00:00'), z('2027-02-01T00:00')],
    },
  ],
  [
    'minutes 50-10/15 step across the hour',
    {
      expression: 'cron(50-10/15 9 * * ? *)',
      after: z('2026-01-01T00:00'),
      count: 3,
      expected: [z('2026-01-01T09:05'), z('2026-01-01T09:50'), z('2026-01-02T09:05')],
    },
  ],
  [
    'day-of-month 30-2 wraps into the next month',
    {
      expression: 'cron(0 0 30-2 * ? *)',
      after: z('2026-01-29T00:00'),
      count: 5,
      expected: [
        z('2026-01-30T00:00'),
        z('2026-01-31T00:00'),
        z('2026-02-01T00:00'),
        z('2026-02-02T00:00'),
        z('2026-03-01T00:00'),
      ],
    },
  ],
  [
    'the largest steps AWS allows: */59 minutes, */23 hours',
    {
      expression: 'cron(*/59 */23 * * ? *)',
      after: z('2026-01-01T00:00'),
      count: 4,
      expected: [z('2026-01-01T00:59'), z('2026-01-01T23:00'), z('2026-01-01T23:59'), z('2026-01-02T00:00')],
    },
  ],
  // at().
  [
    'at() in New York',
    {
      expression: 'at(2026-12-24T18:00:00)',
      timezone: 'America/New_York',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-12-24T23:00')],
    },
  ],
  [
    'at() keeps seconds',
    {
      expression: 'at(2026-12-24T18:00:30)',
      after: z('2026-01-01T00:00'),
      expected: ['2026-12-24T18:00:30.000Z'],
    },
  ],
  ['at() in the past', { expression: 'at(2026-01-01T00:00:00)', after: z('2026-06-01T00:00'), expected: [] }],
  [
    'at() in a Berlin spring-forward gap lands past the gap',
    {
      expression: 'at(2026-03-29T02:30:00)',
      timezone: 'Europe/Berlin',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-03-29T01:30')],
    },
  ],
  [
    'at() in a Berlin fall-back overlap takes the first',
    {
      expression: 'at(2026-10-25T02:30:00)',
      timezone: 'Europe/Berlin',
      after: z('2026-01-01T00:00'),
      expected: [z('2026-10-25T00:30')],
    },
  ],
  [
    'at() ignores startAt and endAt, as AWS does',
    {
      expression: 'at(2026-06-01T00:00:00)',
      after: z('2026-01-01T00:00'),
      startAt: z('2026-07-01T00:00'),
      endAt: z('2026-02-01T00:00'),
      expected: [z('2026-06-01T00:00')],
    },
  ],
  // rate().
  [
    'rate from its creation',
    {
      expression: 'rate(5 minutes)',
      after: z('2026-01-01T00:00'),
      createdAt: z('2026-01-01T00:00'),
      expected: [z('2026-01-01T00:05'), z('2026-01-01T00:10'), z('2026-01-01T00:15')],
    },
  ],
  [
    'rate starts within the minute of creation',
    {
      expression: 'rate(1 hour)',
      after: '2026-01-01T00:00:20.000Z',
      createdAt: '2026-01-01T00:00:20.000Z',
      expected: [z('2026-01-01T00:01'), z('2026-01-01T01:01'), z('2026-01-01T02:01')],
    },
  ],
  [
    'rate from startAt, days are 24 hours whatever the zone',
    {
      expression: 'rate(1 day)',
      timezone: 'America/New_York',
      after: z('2026-03-01T00:00'),
      startAt: z('2026-03-07T10:00'),
      expected: [z('2026-03-07T10:00'), z('2026-03-08T10:00'), z('2026-03-09T10:00')],
    },
  ],
  [
    'rate keeps its phase from startAt',
    {
      expression: 'rate(2 hours)',
      after: z('2026-01-01T05:00'),
      startAt: z('2026-01-01T00:00'),
      expected: [z('2026-01-01T06:00'), z('2026-01-01T08:00'), z('2026-01-01T10:00')],
    },
  ],
  [
    'rate stops at endAt',
    {
      expression: 'rate(10 minutes)',
      after: z('2026-01-01T00:00'),
      createdAt: z('2026-01-01T00:00'),
      endAt: z('2026-01-01T00:25'),
      count: 5,
      expected: [z('2026-01-01T00:10'), z('2026-01-01T00:20')],
    },
  ],
  // startAt/endAt on cron.
  [
    'cron waits for startAt',
    {
      expression: 'cron(0 12 * * ? *)',
      after: z('2026-01-01T00:00'),
      startAt: z('2026-01-05T00:00'),
      count: 2,
      expected: [z('2026-01-05T12:00'), z('2026-01-06T12:00')],
    },
  ],
  [
    'startAt on a fire time includes it',
    {
      expression: 'cron(0 12 * * ? *)',
      after: z('2026-01-01T00:00'),
      startAt: z('2026-01-05T12:00'),
      count: 1,
      expected: [z('2026-01-05T12:00')],
    },
  ],
  [
    'endAt is inclusive',
    {
      expression: 'cron(0 12 * * ? *)',
      after: z('2026-01-01T00:00'),
      endAt: z('2026-01-02T12:00'),
      count: 5,
      expected: [z('2026-01-01T12:00'), z('2026-01-02T12:00')],
    },
  ],
];

describe('next fire times', () => {
  it.each(cases)('%s', (_name, c) => {
    const parsed = parseScheduleExpression(c.expression);
    if (!parsed.ok) throw new Error(`expected ${c.expression} to parse: ${parsed.message}`);
    const times = nextFireTimes(parsed.schedule, {
      after: new Date(c.after),
      count: c.count ?? 3,
      ...(c.timezone ? { timezone: c.timezone } : {}),
      ...(c.startAt ? { startAt: new Date(c.startAt) } : {}),
      ...(c.endAt ? { endAt: new Date(c.endAt) } : {}),
      ...(c.createdAt ? { createdAt: new Date(c.createdAt) } : {}),
    });
    expect(times.map((t) => t.toISOString())).toEqual(c.expected);
  });
});

const invalid: [string, string][] = [
  ['every 5 minutes', 'must be cron(...), rate(...) or at(...)'],
  [
    'cron(0 2 * * *)',
    'cron() needs 6 fields (minutes hours day-of-month month day-of-week year) but got 5: "0 2 * * *"',
  ],
  ['cron(0 2 * * ? * *)', 'needs 6 fields (minutes hours day-of-month month day-of-week year) but got 7'],
  ['cron(60 2 * * ? *)', 'minutes value 60 is out of range 0-59'],
  ['cron(0 24 * * ? *)', 'hours value 24 is out of range 0-23'],
  ['cron(0 0 32 * ? *)', 'day-of-month value 32 is out of range 1-31'],
  ['cron(0 0 * 13 ? *)', 'month value 13 is out of range 1-12'],
  ['cron(0 0 ? * 8 *)', 'day-of-week value 8 is out of range 1-7'],
  ['cron(0 0 1 1 ? 1969)', 'year value 1969 is out of range 1970-2199'],
  ['cron(0 0 * * MON *)', 'day-of-month and day-of-week cannot both be specified; use ? in one of them'],
  ['cron(0 0 ? * ? *)', 'day-of-month and day-of-week cannot both be ?'],
  ['cron(0 0 * FOO ? *)', 'month value "FOO" is not a number or a name (JAN-DEC)'],
  ['cron(0 0 1 1 ? 2030-2027)', 'year range "2030-2027" runs backwards'],
  ['cron(*/60 * * * ? *)', 'minutes step 60 in "*/60" is larger than the field allows (at most 59'],
  ['cron(0/60 * * * ? *)', 'minutes step 60 in "0/60" is larger than the field allows'],
  ['cron(15/65 10 * * ? *)', 'minutes step 65 in "15/65" is larger than the field allows'],
  ['cron(0 */24 * * ? *)', 'hours step 24 in "*/24" is larger than the field allows (at most 23'],
  ['cron(0 0 1/32 * ? *)', 'day-of-month step 32 in "1/32" is larger than the field allows (at most 31'],
  ['cron(0 0 1 1/13 ? *)', 'month step 13 in "1/13" is larger than the field allows (at most 12'],
  ['cron(0 0 1 1 ? 1970/230)', 'year step 230 in "1970/230" is larger than the field allows (at most 229'],
  ['cron(0 0 ? * 1/2 *)', 'day-of-week "1/2": / (increments) is not allowed in day-of-week'],
  ['cron(0 0 ? * */8 *)', 'day-of-week "*/8": / (increments) is not allowed in day-of-week'],
  ['cron(*/0 * * * ? *)', 'minutes step "0" in "*/0" must be a positive whole number'],
  [' rate(10 minutes)', 'must not begin or end with white space'],
  ['cron(0 12 * * ? *) ', 'must not begin or end with white space'],
  ['rate( 10 minutes )', 'rate() must not have white space just inside its parentheses'],
  ['rate(10 MINUTES)', 'rate() unit "MINUTES" must be lowercase ("minutes")'],
  ['rate(10 seconds)', 'rate() unit "seconds" must be minute(s), hour(s) or day(s)'],
  ['rate(-10 minutes)', 'rate() value "-10" must be a positive whole number'],
  ['at( 2026-12-24T18:00:00)', 'at() needs yyyy-mm-ddThh:mm:ss'],
  ['at(2026-12-24T18:00:00Z)', 'at() needs yyyy-mm-ddThh:mm:ss'],
  ['cron(0/0 * * * ? *)', 'minutes step "0" in "0/0" must be a positive whole number'],
  ['cron(0 ? * * ? *)', '? is allowed only in day-of-month or day-of-week, not in hours'],
  ['cron(0 0 ? * 2#6 *)', '# needs a day and an occurrence 1-5'],
  ['cron(0 0 ? * 3#1,6#3 *)', 'with # the field holds one expression only'],
  ['cron(0 0 5L * ? *)', 'L and W stand alone'],
  ['cron(0 0 L-31 * ? *)', 'day-of-month "L-31": the offset after L- must be 1-30'],
  ['cron(0 0 L-0 * ? *)', 'day-of-month "L-0": the offset after L- must be 1-30'],
  ['cron(0 0 ? * L-2 *)', 'day-of-week "L-2": L goes after a single day'],
  ['cron(L 0 * * ? *)', 'minutes "L": L, W and # are allowed only in the day fields'],
  ['cron(0 0 1,,2 * ? *)', 'day-of-month field "1,,2" has an empty list item'],
  ['rate(5 minute)', 'rate() unit must be plural ("minutes") when the value is greater than 1'],
  ['rate(1 minutes)', 'rate() unit must be singular ("minute") when the value is 1'],
  ['rate(0 minutes)', 'rate() value "0" must be a positive whole number'],
  ['rate(1.5 hours)', 'rate() value "1.5" must be a positive whole number'],
  ['rate(5 weeks)', 'rate() unit "weeks" must be minute(s), hour(s) or day(s)'],
  ['rate(5)', 'rate() needs a value and a unit'],
  ['at(2026-02-30T10:00:00)', 'at() date 2026-02-30 does not exist'],
  ['at(2026-12-24 18:00:00)', 'at() needs yyyy-mm-ddThh:mm:ss, e.g. at(2026-12-24T18:00:00)'],
  ['at(2026-12-24T24:00:00)', 'at() time 24:00:00 is not a valid time of day'],
];

describe('invalid expressions', () => {
  it.each(invalid)('%s is refused: %s', (expression, message) => {
    const parsed = parseScheduleExpression(expression);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(message);
  });
});

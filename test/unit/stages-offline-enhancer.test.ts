import { describe, expect, it } from 'vitest';
import { offlineEnhancement, offlineEnhancer, normalizePriority } from '../../src/consumers/enhancers/offline.js';
import { promptLimits, userPrompt } from '../../src/consumers/enhancers/prompt.js';
import { enhancementJsonSchema } from '../../src/consumers/enhancers/openai.js';
import { enhancementSchema, type TicketContext } from '../../src/events.js';

const emptyContext: TicketContext = { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] };
const enhance = (
  subject: string,
  description: string,
  options: { priority?: string; context?: Partial<TicketContext> } = {},
) =>
  offlineEnhancement({
    ticket: { subject, description, priority: options.priority },
    context: { ...emptyContext, ...options.context },
  });

describe('offline enhancer', () => {
  it.each([
    ['VPN keeps disconnecting', 'AnyConnect drops every 5 minutes', 'VPN'],
    ['Wi-Fi is slow on floor 3', 'Packet loss and high latency', 'Network'],
    ['Printer jammed', 'Paper jam in tray 2, toner low', 'Printer'],
    ['Outlook not receiving mail', 'Mailbox says it is full', 'Email'],
    ['Locked out', 'I forgot my password and need a reset', 'Account / Password'],
    ['Disk almost full on file server', 'Only 2 GB of disk space left on the volume', 'Storage'],
    ['Monitor flickers', 'Second screen on the docking station flickers', 'Hardware'],
    ['Excel crashes', 'Excel crashes after the latest update', 'Software'],
    ['Suspicious email in my mailbox', 'An email in Outlook looks like phishing and asks for my password', 'Security'],
    ['Something is odd', 'Please call me', 'General'],
  ])('%s → %s', (subject, description, category) => {
    expect(enhance(subject, description).suggestedCategory).toBe(category);
  });

  it("takes the priority from urgency words, the ticket's own priority, or lowers it for questions", () => {
    expect(enhance('VPN outage', 'All users at HQ are affected').suggestedPriority).toBe('urgent');
    expect(enhance('VPN is down', 'I cannot work').suggestedPriority).toBe('high');
    expect(enhance('Printer question', 'How do I print double-sided?').suggestedPriority).toBe('low');
    expect(enhance('Printer question', 'How do I print double-sided?', { priority: 'High' }).suggestedPriority).toBe(
      'high',
    );
    expect(enhance('Mouse', 'The mouse wheel squeaks').suggestedPriority).toBe('medium');
    expect(enhance('Mouse', 'The mouse wheel squeaks', { priority: 'P1' }).suggestedPriority).toBe('urgent');
  });

  it('uses the context: asset kinds, KB articles and a cluster of similar tickets', () => {
    const context: Partial<TicketContext> = {
      assets: [{ ip: '10.1.5.20', hostname: 'prn-2f', site: 'HQ', kind: 'printer', network: '10.1.5.20/32' }],
      kbArticles: [{ articleId: 'KB-7', title: 'Clearing jams', rank: 0.5 }],
      similarTickets: [1, 2, 3].map((i) => ({
        ticketId: `T-${i}`,
        subject: `Cannot reach 10.1.5.20 (${i})`,
        status: 'written_back',
        rank: 0.6,
      })),
    };
    const result = enhance('Cannot reach 10.1.5.20', 'Nothing comes out', { context });
    expect(result.suggestedCategory).toBe('Printer');
    expect(result.suggestedPriority).toBe('high');
    expect(result.summary).toContain('prn-2f (10.1.5.20, HQ)');
    expect(result.nextSteps).toContain('Follow KB article KB-7: Clearing jams');
    expect(result.nextSteps.some((step) => step.startsWith('Compare with similar ticket T-1'))).toBe(true);
    expect(result.confidence).toBeGreaterThan(enhance('Cannot reach 10.1.5.20', 'Nothing comes out').confidence);
  });

  it('is deterministic, valid for the enhancement schema, and labelled model "offline"', async () => {
    const request = {
      ticket: { subject: 'VPN down for all users', description: 'x'.repeat(50_000) },
      context: emptyContext,
    };
    const first = await offlineEnhancer.enhance(request, new AbortController().signal);
    const second = await offlineEnhancer.enhance(request, new AbortController().signal);
    expect(first).toEqual(second);
    expect(first.model).toBe('offline');
    expect(first.tokens).toEqual({ prompt: 0, completion: 0 });
    expect(enhancementSchema.parse(first.enhancement)).toEqual(first.enhancement);
  });

  it('maps helpdesk priority names', () => {
    expect(
      ['Urgent', 'critical', 'P1', 'High', 'p2', 'Normal', 'Medium', 'Low', 'P4', 'whatever', undefined].map(
        normalizePriority,
      ),
    ).toEqual(['urgent', 'urgent', 'urgent', 'high', 'high', 'medium', 'medium', 'low', 'low', undefined, undefined]);
  });
});

describe('LLM prompt and schema', () => {
  it('bounds the prompt whatever the ticket and context hold', () => {
    const long = 'word '.repeat(100_000);
    const prompt = userPrompt({
      ticket: { subject: long, description: long, priority: 'high', category: 'x' },
      context: {
        similarTickets: Array.from({ length: 50 }, (_, i) => ({
          ticketId: `T-${i}`,
          subject: long,
          status: 'received',
          rank: 1,
        })),
        assets: Array.from({ length: 50 }, (_, i) => ({
          ip: `10.0.0.${i}`,
          hostname: `h${i}`,
          site: 's',
          kind: 'k',
          network: '10.0.0.0/24',
        })),
        unmatchedIps: Array.from({ length: 50 }, (_, i) => `192.168.0.${i}`),
        kbArticles: Array.from({ length: 50 }, (_, i) => ({
          articleId: `KB-${i}`,
          title: long,
          rank: 1,
          excerpt: long,
        })),
      },
    });
    expect(prompt.length).toBeLessThan(16_000);
    const parsed = JSON.parse(prompt);
    expect(parsed.ticket.description.length).toBeLessThanOrEqual(promptLimits.descriptionChars);
    expect(parsed.similarTickets).toHaveLength(promptLimits.similarTickets);
    expect(parsed.knowledgeBase).toHaveLength(promptLimits.kbArticles);
  });

  it('derives a strict JSON schema from the enhancement schema: every field required, nothing extra, no length keywords', () => {
    expect(enhancementJsonSchema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['summary', 'likelyCause', 'suggestedCategory', 'suggestedPriority', 'nextSteps', 'confidence'],
      properties: {
        suggestedPriority: { enum: ['low', 'medium', 'high', 'urgent'] },
        confidence: { type: 'number', minimum: 0, maximum: 1 },
      },
    });
    expect(JSON.stringify(enhancementJsonSchema)).not.toMatch(/minLength|maxLength|\$schema/);
  });
});

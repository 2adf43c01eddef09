import { priorities, type Enhancement } from '../../events.js';
import type { Enhancer, EnhancementRequest, EnhancementResult } from './enhancer.js';
import {
  categoryRules,
  general,
  highSignals,
  incidentSimilarCount,
  incidentSimilarRank,
  lowSignals,
  urgentSignals,
  type CategoryRule,
  type Priority,
} from './offline-rules.js';

export { categoryRules } from './offline-rules.js';

/** Maps the helpdesk's own priority names (High, P1, Critical, …) to ours. */
export function normalizePriority(priority: string | undefined): Priority | undefined {
  const value = priority?.trim().toLowerCase();
  if (!value) return undefined;
  if (/urgent|critical|emergency|p1|highest/.test(value)) return 'urgent';
  if (/high|p2/.test(value)) return 'high';
  if (/medium|normal|moderate|p3/.test(value)) return 'medium';
  if (/low|p4|p5|lowest|minor/.test(value)) return 'low';
  return undefined;
}

const rankOf = (priority: Priority) => priorities.indexOf(priority);
const higher = (a: Priority, b: Priority) => (rankOf(a) >= rankOf(b) ? a : b);

function escapeForRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whole-word patterns, compiled once per phrase list rather than once per ticket. */
const phrasePatterns = new WeakMap<readonly string[], RegExp[]>();

function countMatches(text: string, phrases: readonly string[]): number {
  let patterns = phrasePatterns.get(phrases);
  if (!patterns) {
    patterns = phrases.map((phrase) => new RegExp(`(^|[^a-z0-9])${escapeForRegExp(phrase)}($|[^a-z0-9])`));
    phrasePatterns.set(phrases, patterns);
  }
  return patterns.filter((pattern) => pattern.test(text)).length;
}

type Context = EnhancementRequest['context'];
type Scored = { rule: CategoryRule; score: number };

/** The best-matching category rule, if any: an overriding rule first, else the highest score (earlier on a tie). */
function bestRule(subject: string, description: string, context: Context): Scored | undefined {
  const assetKinds = new Set(
    context.assets.map((asset) => asset.kind?.toLowerCase()).filter((kind): kind is string => Boolean(kind)),
  );
  const scored = categoryRules
    .map((rule) => ({
      rule,
      score:
        2 * countMatches(subject, rule.keywords) +
        countMatches(description, rule.keywords) +
        rule.assetKinds.filter((kind) => assetKinds.has(kind)).length,
    }))
    .filter(({ score }) => score > 0);
  return (
    scored.find(({ rule }) => rule.overrides) ??
    scored.reduce<Scored | undefined>(
      (top, candidate) => (!top || candidate.score > top.score ? candidate : top),
      undefined,
    )
  );
}

function priorityOf(ticketPriority: string | undefined, text: string, widerIncident: boolean): Priority {
  let priority: Priority = normalizePriority(ticketPriority) ?? (countMatches(text, lowSignals) > 0 ? 'low' : 'medium');
  if (countMatches(text, highSignals) > 0 || widerIncident) priority = higher(priority, 'high');
  if (countMatches(text, urgentSignals) > 0) priority = 'urgent';
  return priority;
}

function summaryOf(category: string, subject: string, context: Context, widerIncident: boolean): string {
  const hosts = context.assets.map((asset) => `${asset.hostname} (${asset.ip}${asset.site ? `, ${asset.site}` : ''})`);
  return [
    `${category} issue: ${subject.slice(0, 300)}${/[.!?]$/.test(subject) ? '' : '.'}`,
    hosts.length > 0 ? `Affects ${hosts.slice(0, 3).join(', ')}.` : '',
    context.unmatchedIps.length > 0 ? `Unknown addresses: ${context.unmatchedIps.slice(0, 5).join(', ')}.` : '',
    widerIncident ? `${context.similarTickets.length} similar tickets: possibly a wider incident.` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

function nextStepsOf(best: Scored | undefined, context: Context): string[] {
  return [
    ...(best?.rule.nextSteps ?? general.nextSteps),
    ...context.kbArticles.slice(0, 2).map((article) => `Follow KB article ${article.articleId}: ${article.title}`),
    ...context.similarTickets
      .slice(0, 2)
      .map((similar) => `Compare with similar ticket ${similar.ticketId}: ${similar.subject.slice(0, 120)}`),
  ];
}

/** Keyword evidence, then each kind of supporting context, raises confidence; rules never claim certainty. */
function confidenceOf(best: Scored | undefined, context: Context): number {
  return best
    ? Math.min(
        0.9,
        0.4 +
          0.1 * Math.min(best.score, 3) +
          (context.kbArticles.length > 0 ? 0.1 : 0) +
          (context.assets.length > 0 ? 0.05 : 0),
      )
    : 0.2;
}

/**
 * The enhancer used without OPENAI_API_KEY: keyword rules over the subject and description plus
 * the context (asset kinds, KB articles, similar tickets). Deterministic: the same ticket and
 * context always give the same enhancement.
 */
export function offlineEnhancement({ ticket, context }: EnhancementRequest): Enhancement {
  const subject = ticket.subject.toLowerCase();
  const description = ticket.description.toLowerCase();
  const best = bestRule(subject, description, context);
  const widerIncident =
    context.similarTickets.filter((similar) => similar.rank >= incidentSimilarRank).length >= incidentSimilarCount;
  const category = best?.rule.category ?? general.category;
  return {
    summary: summaryOf(category, ticket.subject, context, widerIncident).slice(0, 2_000),
    likelyCause: best?.rule.likelyCause ?? general.likelyCause,
    suggestedCategory: category,
    suggestedPriority: priorityOf(ticket.priority, `${subject}\n${description}`, widerIncident),
    nextSteps: nextStepsOf(best, context).slice(0, 20),
    confidence: Math.round(confidenceOf(best, context) * 100) / 100,
  };
}

export const offlineEnhancer: Enhancer = {
  async enhance(request): Promise<EnhancementResult> {
    return { enhancement: offlineEnhancement(request), model: 'offline', tokens: { prompt: 0, completion: 0 } };
  },
};

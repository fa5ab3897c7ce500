// The topics subscriptions may name: Kiln's built-in ones, stored as the Basic resources the
// backport IG uses for topics in R4 (so clients read them like any resource), and any Basic topic
// a client adds, which works without code. Each process keeps the list it read last; the consumer
// reads it again when a Basic changes, and a write naming a topic it does not know reads it again
// before refusing.
import type { Basic, Bundle } from '@medplum/fhirtypes';
import type { FhirContext } from '../server/fhir/context.js';
import { FhirError } from '../server/fhir/errors.js';
import { read } from '../server/fhir/interactions/read.js';
import { search } from '../server/fhir/interactions/search.js';
import { update } from '../server/fhir/interactions/update.js';
import type { Logger } from '../server/logger.js';
import type { TopicDefinition } from './model.js';
import { BUILT_IN_TOPICS, topicFromBasic, topicToBasic } from './topics.js';

const TOPIC_SEARCH: [string, string][] = [
  ['code', 'http://hl7.org/fhir/fhir-types|SubscriptionTopic'],
  ['_count', '1000'],
];

/** The same resource apart from what the server sets (meta). */
const sameContent = (a: Basic, b: Basic) => JSON.stringify({ ...a, meta: undefined }) === JSON.stringify({ ...b, meta: undefined });

export class TopicRegistry {
  private topics = new Map<string, TopicDefinition>(BUILT_IN_TOPICS.map((t) => [t.url, t]));

  constructor(
    private readonly ctx: () => FhirContext,
    private readonly logger: Logger,
  ) {}

  /** Kiln's own context: topics are read and written by Kiln, whoever asks. */
  private kiln(): FhirContext {
    return { ...this.ctx(), access: undefined };
  }

  /** Writes the built-in topics as Basic resources where they are missing or out of date. */
  async install(): Promise<void> {
    const ctx = this.kiln();
    for (const topic of BUILT_IN_TOPICS) {
      const basic = topicToBasic(topic);
      const id = basic.id as string;
      try {
        const stored = JSON.parse((await read(ctx, 'Basic', id)).content) as Basic;
        if (sameContent(stored, basic)) continue;
      } catch (error) {
        if (!(error instanceof FhirError && (error.status === 404 || error.status === 410))) throw error;
      }
      await update(ctx, 'Basic', id, basic);
    }
  }

  current(): ReadonlyMap<string, TopicDefinition> {
    return this.topics;
  }

  /** Reads the Basic topics again; a Basic that is not a usable topic is left out, with a warning. */
  async reload(): Promise<ReadonlyMap<string, TopicDefinition>> {
    const bundle = JSON.parse(await search(this.kiln(), 'Basic', TOPIC_SEARCH, { lenient: false })) as Bundle<Basic>;
    const topics = new Map<string, TopicDefinition>(BUILT_IN_TOPICS.map((t) => [t.url, t]));
    for (const entry of bundle.entry ?? []) {
      if (!entry.resource) continue;
      try {
        const topic = topicFromBasic(entry.resource);
        topics.set(topic.url, topic);
      } catch (error) {
        this.logger.warn({ basic: entry.resource.id, reason: error instanceof Error ? error.message : String(error) }, 'a Basic topic is not usable and is left out');
      }
    }
    this.topics = topics;
    return topics;
  }

  /** The topics, read again first when `url` is not among them (a topic added by another process). */
  async including(url: string): Promise<ReadonlyMap<string, TopicDefinition>> {
    return this.topics.has(url) ? this.topics : this.reload();
  }
}

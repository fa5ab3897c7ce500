// MQTT topic names as Kiln accepts them for a subscription's channel (MQTT 3.1.1 §4.7, MQTT 5
// §4.7): an exact topic that Kiln publishes to, so never a filter with wildcards, never one of the
// broker's own `$` topics, and within the protocol's limits. The subscription parser, the MQTT
// channel and the broker's access checks all read a channel endpoint through `mqttTopic`, so that
// they agree on which topic a subscription names.

/** The longest topic name MQTT can carry: its length is a two-byte prefix. */
const MAX_TOPIC_BYTES = 65535;

/** Whether `topic` is a topic filter with wildcards, which matches many topics. */
export function hasWildcard(topic: string): boolean {
  return topic.includes('#') || topic.includes('+');
}

/** Whether `topic` is a name Kiln may publish notifications to. */
export function isPublishableTopic(topic: string): boolean {
  if (!topic || hasWildcard(topic) || topic.startsWith('$') || topic.includes('\u0000')) return false;
  const bytes = Buffer.from(topic, 'utf8');
  // A lone surrogate has no UTF-8 form: it comes back changed, and MQTT requires well-formed UTF-8.
  return bytes.length <= MAX_TOPIC_BYTES && bytes.toString('utf8') === topic;
}

/**
 * The topic a channel endpoint names: a bare topic, or `mqtt://host:port/topic` (the path,
 * percent-decoded, without its leading `/`). Undefined when it names no topic Kiln may publish to.
 */
export function mqttTopic(endpoint: string): string | undefined {
  let topic = endpoint;
  if (/^mqtt:\/\//i.test(endpoint)) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return undefined;
    }
    // A raw `#` or `?` ends the path of a URL: as part of a topic they must be percent-encoded,
    // and a `#` (a wildcard) is refused either way.
    if (url.search || url.hash || endpoint.endsWith('#') || endpoint.endsWith('?')) return undefined;
    try {
      topic = decodeURIComponent(url.pathname.slice(1));
    } catch {
      return undefined;
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) {
    // Another scheme's URL (an https endpoint meant for rest-hook) is a mistake, not a topic.
    return undefined;
  }
  return isPublishableTopic(topic) ? topic : undefined;
}

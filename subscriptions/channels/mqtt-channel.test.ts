// The MQTT channel: which endpoints name a topic, and a notification published through Kiln's
// embedded broker reaching a subscribed client.
import { connectAsync, type IPublishPacket } from 'mqtt';
import { createLogger } from '../../server/logger.js';
import { startMqtt, type KilnMqtt } from '../../server/mqtt/broker.js';
import { DeliveryError, type ChannelPlan } from '../model.js';
import { mqttChannel, mqttTopic } from './mqtt-channel.js';

describe('mqttTopic', () => {
  it.each([
    ['kiln/subscriptions/abc', 'kiln/subscriptions/abc'],
    ['ward 3/beds', 'ward 3/beds'],
    ['mqtt://kiln.example:1883/kiln/subscriptions/abc', 'kiln/subscriptions/abc'],
    ['mqtt://localhost/ward%203/beds%2Fnorth', 'ward 3/beds/north'],
    ['MQTT://localhost:1883/x', 'x'],
  ])('%s names the topic %s', (endpoint, topic) => {
    expect(mqttTopic(endpoint)).toBe(topic);
  });

  it.each([
    ['empty', ''],
    ['an empty path', 'mqtt://localhost:1883/'],
    ['a multi-level wildcard', 'kiln/#'],
    ['a single-level wildcard', 'kiln/+/abc'],
    ['a wildcard that a URL reads as a fragment', 'mqtt://localhost/kiln/#'],
    ['a percent-encoded wildcard', 'mqtt://localhost/kiln/%2B'],
    ['a broker topic', '$SYS/broker'],
    ['a percent-encoded broker topic', 'mqtt://localhost/%24SYS/x'],
    ['a NUL', 'kiln/\u0000'],
    ['a percent-encoded NUL', 'mqtt://localhost/kiln%00'],
    ['a percent-encoded wildcard inside a level', 'mqtt://localhost/a%23b'],
    ['a malformed percent-encoding', 'mqtt://localhost/kiln%E0%A4'],
    ['a query', 'mqtt://localhost/kiln?x=1'],
    ['a lone surrogate', 'kiln/\uD800'],
    ['another scheme', 'https://example.org/hook'],
    ['more than 65535 bytes', 'x'.repeat(65536)],
    ['more than 65535 bytes in UTF-8', 'é'.repeat(32768)],
  ])('names no topic: %s', (_what, endpoint) => {
    expect(mqttTopic(endpoint)).toBeUndefined();
  });

  it('accepts a topic of exactly 65535 bytes', () => {
    expect(mqttTopic('x'.repeat(65535))).toHaveLength(65535);
  });
});

describe('mqttChannel', () => {
  const logger = createLogger('silent');
  let mqtt: KilnMqtt;
  beforeAll(async () => {
    mqtt = await startMqtt({
      port: 0,
      host: '127.0.0.1',
      logger,
      authenticate: async (username, password) => (username === 'bob' && password?.toString() === 'bob-password' ? username : undefined),
      maySubscribe: async (principal, topic) => principal === 'bob' && topic === 'kiln/subscriptions/sub-1',
      mayPublish: async () => false,
    });
  });
  afterAll(() => mqtt.close());

  const channel = (endpoint: string): ChannelPlan => ({ type: 'mqtt', endpoint, headers: [], payload: 'application/fhir+json' });

  it('publishes the notification on the endpoint’s topic at QoS 1', async () => {
    const bob = await connectAsync(`mqtt://127.0.0.1:${mqtt.port}`, { username: 'bob', password: 'bob-password', reconnectPeriod: 0 });
    try {
      await bob.subscribeAsync('kiln/subscriptions/sub-1', { qos: 1 });
      const received = new Promise<IPublishPacket>((resolve) => bob.once('message', (_topic, _payload, packet) => resolve(packet)));
      const body = '{"resourceType":"Bundle","type":"history"}';
      await mqttChannel(mqtt).send('sub-1', channel(`mqtt://127.0.0.1:${mqtt.port}/kiln/subscriptions/sub-1`), { contentType: 'application/fhir+json', body });
      const packet = await received;
      expect(packet.topic).toBe('kiln/subscriptions/sub-1');
      expect(packet.qos).toBe(1);
      expect(packet.payload.toString()).toBe(body);
    } finally {
      await bob.endAsync(true);
    }
  });

  it('fails retryably when Kiln has no broker', async () => {
    const off: KilnMqtt = { available: false, describe: 'embedded broker off (port 1883 in use)', publish: () => Promise.reject(new Error('off')), close: async () => undefined };
    const sent = mqttChannel(off).send('sub-1', channel('kiln/subscriptions/sub-1'), { body: '' });
    await expect(sent).rejects.toBeInstanceOf(DeliveryError);
    await expect(sent).rejects.toMatchObject({ retryable: true });
  });

  it('fails retryably when the broker does not take the message', async () => {
    const failing: KilnMqtt = { available: true, describe: 'mqtt://broker.example/', publish: () => Promise.reject(new Error('no PUBACK')), close: async () => undefined };
    await expect(mqttChannel(failing).send('sub-1', channel('kiln/subscriptions/sub-1'), { body: 'x' })).rejects.toMatchObject({ retryable: true, message: expect.stringContaining('no PUBACK') });
  });

  it('refuses, without retry, an endpoint that names no topic', async () => {
    await expect(mqttChannel(mqtt).send('sub-1', channel('kiln/#'), { body: 'x' })).rejects.toMatchObject({ retryable: false });
  });
});

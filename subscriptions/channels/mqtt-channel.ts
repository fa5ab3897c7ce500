// The MQTT channel: a notification is one QoS 1 message on the subscription's topic, on Kiln's
// broker (embedded or external, server/mqtt/broker.ts). The topic is the channel endpoint, a bare
// topic or `mqtt://host:port/topic`; the subscription parser has already refused endpoints that
// name no topic, with the same `mqttTopic`.
import type { KilnMqtt } from '../../server/mqtt/broker.js';
import { mqttTopic } from '../../server/mqtt/topics.js';
import { DeliveryError, type ChannelPlan, type ChannelSender, type OutgoingMessage } from '../model.js';

export { mqttTopic };

export function mqttChannel(mqtt: KilnMqtt): ChannelSender {
  return {
    type: 'mqtt',
    async send(subscriptionId: string, channel: ChannelPlan, message: OutgoingMessage): Promise<void> {
      const topic = channel.endpoint === undefined ? undefined : mqttTopic(channel.endpoint);
      // No retry can make a bad endpoint good; a new version of the Subscription can.
      if (topic === undefined) throw new DeliveryError(`Subscription/${subscriptionId}: the channel endpoint names no MQTT topic`, false);
      // A broker that is off now may be there after a restart with another KILN_MQTT_PORT: retry.
      if (!mqtt.available) throw new DeliveryError(`Subscription/${subscriptionId}: Kiln has no MQTT broker (${mqtt.describe})`, true);
      try {
        await mqtt.publish(topic, message.body, message.contentType);
      } catch (error) {
        throw new DeliveryError(`Subscription/${subscriptionId}: MQTT publish to ${topic} failed: ${(error as Error).message}`, true);
      }
    },
  };
}

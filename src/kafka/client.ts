/**
 * A kafkajs client for a cluster of the inventory, for the few things we do through kafkajs (producing CONNECT
 * messages, topic configs): short retries, TLS (CA, client certificate, key passphrase, server name) and SASL
 * (PLAIN, SCRAM-SHA-256/512) from the inventory, secrets from the environment (registered with src/log.ts so
 * that no log line or audit entry can hold them).
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { ClusterConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { registerSecret } from '../log.js';

export function kafkaClient(kafka: ClusterConfig['kafka'], secretsByEnv: Record<string, string>): Kafka {
  const config: KafkaConfig = {
    clientId: kafka.clientId,
    brokers: kafka.brokers,
    connectionTimeout: kafka.connectTimeoutMs,
    requestTimeout: kafka.requestTimeoutMs,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.NOTHING,
  };
  if (kafka.tls?.enabled) {
    config.ssl = {
      rejectUnauthorized: kafka.tls.rejectUnauthorized,
      ...(kafka.tls.ca ? { ca: [readFileSync(kafka.tls.ca, 'utf8')] } : {}),
      ...(kafka.tls.cert ? { cert: readFileSync(kafka.tls.cert, 'utf8') } : {}),
      ...(kafka.tls.key ? { key: readFileSync(kafka.tls.key, 'utf8') } : {}),
      ...(kafka.tls.passphraseEnv ? { passphrase: secretsByEnv[kafka.tls.passphraseEnv] } : {}),
      ...(kafka.tls.servername ? { servername: kafka.tls.servername } : {}),
    };
    registerSecret(kafka.tls.passphraseEnv ? secretsByEnv[kafka.tls.passphraseEnv] : undefined);
  }
  if (kafka.sasl) {
    const password = secretsByEnv[kafka.sasl.passwordEnv];
    if (password === undefined) {
      throw new ConfigError(
        `kafka.sasl.passwordEnv: environment variable ${kafka.sasl.passwordEnv} is not set`,
      );
    }
    registerSecret(password);
    config.sasl = { mechanism: kafka.sasl.mechanism, username: kafka.sasl.username, password } as SASLOptions;
  }
  return new Kafka(config);
}

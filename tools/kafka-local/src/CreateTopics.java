// Creates several topics in one JVM (TopicCommand takes one topic per run, and each JVM start costs
// seconds on a small machine). Idempotent: a topic that already exists is reported, not an error.
// Then warms the broker up so the first client does not pay for it (or log retries): looking up a group
// coordinator creates __consumer_offsets, and initTransactions() creates __transaction_state and fetches
// the first producer-id block from the controller (else the first idempotent producer gets
// COORDINATOR_LOAD_IN_PROGRESS once).
// Usage: CreateTopics BOOTSTRAP PARTITIONS REPLICATION_FACTOR TOPIC...
// Exit: 0 all topics exist afterwards; 1 a topic could not be created; 2 usage.
package dev.orderflow.kafkalocal;

import java.util.ArrayList;
import java.util.List;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

public final class CreateTopics {
  public static void main(String[] args) throws InterruptedException {
    if (args.length < 4) {
      System.err.println("usage: CreateTopics BOOTSTRAP PARTITIONS REPLICATION_FACTOR TOPIC...");
      System.exit(2);
    }
    int partitions = Integer.parseInt(args[1]);
    short replication = Short.parseShort(args[2]);
    List<NewTopic> topics = new ArrayList<>();
    for (int i = 3; i < args.length; i++) {
      topics.add(new NewTopic(args[i], partitions, replication));
    }
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "orderflow-kafka-local");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    int failed = 0;
    try (Admin admin = Admin.create(props)) {
      Map<String, KafkaFuture<Void>> results = admin.createTopics(topics).values();
      for (NewTopic topic : topics) {
        try {
          results.get(topic.name()).get();
          System.out.println("created " + topic.name() + " partitions=" + partitions);
        } catch (ExecutionException e) {
          if (e.getCause() instanceof TopicExistsException) {
            System.out.println("exists " + topic.name());
          } else {
            System.err.println("error: cannot create topic " + topic.name() + ": " + e.getCause());
            failed++;
          }
        }
      }
      if (failed == 0) {
        try {
          admin.describeConsumerGroups(List.of("orderflow-kafka-local-warmup")).all().get();
        } catch (ExecutionException e) {
          System.err.println("warning: group coordinator warm-up failed: " + e.getCause());
        }
      }
    }
    if (failed == 0) {
      Properties p = new Properties();
      p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
      p.put(ProducerConfig.CLIENT_ID_CONFIG, "orderflow-kafka-local-warmup");
      p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "orderflow-kafka-local-warmup");
      p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
      try (KafkaProducer<byte[], byte[]> producer =
          new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
        producer.initTransactions();
        producer.close(Duration.ofSeconds(5));
      } catch (RuntimeException e) {
        System.err.println("warning: transaction coordinator warm-up failed: " + e);
      }
    }
    System.exit(failed == 0 ? 0 : 1);
  }
}

using System.Reflection;
using Google.Protobuf.Reflection;
using VisualSearch.Functions.HostTests.Rpc;

namespace VisualSearch.Functions.HostTests;

/// <summary>
/// The harness's own FunctionRpc.proto against the schema the worker is built with (the internal
/// FunctionRpcReflection.Descriptor of Microsoft.Azure.Functions.Worker.Grpc, read by reflection): every message,
/// field and enum value the harness declares exists there with the same number, name and type.
/// </summary>
public sealed class ProtocolSchemaTests
{
    private static FileDescriptor WorkerSchema()
    {
        var assembly = Assembly.Load("Microsoft.Azure.Functions.Worker.Grpc");
        var reflection = assembly.GetTypes().Single(t => t.Name == "FunctionRpcReflection");
        return (FileDescriptor)reflection.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
    }

    [Fact]
    public void The_harness_schema_is_a_subset_of_the_workers()
    {
        var worker = WorkerSchema();
        var ours = FunctionRpcReflection.Descriptor;
        Assert.Equal(worker.Package, ours.Package);

        var theirService = Assert.Single(worker.Services, s => s.Name == "FunctionRpc");
        var ourMethod = Assert.Single(Assert.Single(ours.Services).Methods);
        var theirMethod = Assert.Single(theirService.Methods, m => m.Name == ourMethod.Name);
        Assert.True(theirMethod.IsClientStreaming && theirMethod.IsServerStreaming && ourMethod.IsClientStreaming && ourMethod.IsServerStreaming);

        var theirs = AllMessages(worker.MessageTypes).ToDictionary(m => m.FullName, StringComparer.Ordinal);
        var checkedFields = 0;
        foreach (var message in AllMessages(ours.MessageTypes))
        {
            Assert.True(theirs.TryGetValue(message.FullName, out var their), $"The worker's schema has no {message.FullName}.");
            foreach (var field in message.Fields.InFieldNumberOrder())
            {
                var match = their!.FindFieldByNumber(field.FieldNumber);
                Assert.True(match is not null, $"{message.FullName}.{field.Name} ({field.FieldNumber}) is not in the worker's schema.");
                Assert.Equal(match.Name, field.Name);
                Assert.Equal(match.FieldType, field.FieldType);
                Assert.Equal(match.IsRepeated, field.IsRepeated);
                Assert.Equal(match.IsMap, field.IsMap);
                Assert.Equal(match.ContainingOneof?.Name, field.ContainingOneof?.Name);
                if (field.FieldType == FieldType.Message) Assert.Equal(match.MessageType.FullName, field.MessageType.FullName);
                if (field.FieldType == FieldType.Enum)
                {
                    Assert.Equal(match.EnumType.FullName, field.EnumType.FullName);
                    foreach (var value in field.EnumType.Values) Assert.Equal(value.Name, match.EnumType.FindValueByNumber(value.Number)?.Name);
                }

                checkedFields++;
            }
        }

        Assert.True(checkedFields > 60, $"Only {checkedFields} fields compared.");
    }

    private static IEnumerable<MessageDescriptor> AllMessages(IEnumerable<MessageDescriptor> messages) =>
        messages.SelectMany(m => new[] { m }.Concat(AllMessages(m.NestedTypes)));
}

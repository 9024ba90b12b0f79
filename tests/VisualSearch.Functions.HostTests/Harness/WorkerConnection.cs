using System.Collections.Concurrent;
using Grpc.Core;
using VisualSearch.Functions.HostTests.Rpc;

namespace VisualSearch.Functions.HostTests.Harness;

/// <summary>
/// The host's end of one worker's <c>FunctionRpc.EventStream</c>: sends requests (one writer at a time, as gRPC
/// requires) and routes what the worker sends back to whoever waits for it: StartStream, WorkerInitResponse,
/// FunctionMetadataResponse, FunctionLoadResponse by function id, InvocationResponse by invocation id. RpcLog
/// messages are collected.
/// </summary>
internal sealed class WorkerConnection
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly TaskCompletionSource<StartStream> _started = New<StartStream>();
    private readonly TaskCompletionSource<WorkerInitResponse> _initialized = New<WorkerInitResponse>();
    private readonly TaskCompletionSource<FunctionMetadataResponse> _metadata = New<FunctionMetadataResponse>();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<FunctionLoadResponse>> _loads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<InvocationResponse>> _invocations = new(StringComparer.Ordinal);
    private IServerStreamWriter<StreamingMessage>? _writer;

    public ConcurrentQueue<RpcLog> Logs { get; } = new();

    public Task<StartStream> Started => _started.Task;

    public Task<WorkerInitResponse> Initialized => _initialized.Task;

    public Task<FunctionMetadataResponse> Metadata => _metadata.Task;

    /// <summary>Completes when the worker's stream ended (it closed it, or the process went away).</summary>
    public Task Closed => _closed.Task;

    /// <summary>The gRPC call: runs until the worker ends its side of the stream.</summary>
    public async Task RunAsync(IAsyncStreamReader<StreamingMessage> requests, IServerStreamWriter<StreamingMessage> responses, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _writer, responses, null) is not null)
            throw new Grpc.Core.RpcException(new Status(StatusCode.AlreadyExists, "This harness serves one worker stream."));
        try
        {
            while (await requests.MoveNext(cancellationToken).ConfigureAwait(false)) Dispatch(requests.Current);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or Grpc.Core.RpcException)
        {
            // The worker went away: Closed fails whatever still waits.
        }
        finally
        {
            var gone = new IOException("The worker closed its gRPC stream.");
            _started.TrySetException(gone);
            _initialized.TrySetException(gone);
            _metadata.TrySetException(gone);
            foreach (var waiter in _loads.Values) waiter.TrySetException(gone);
            foreach (var waiter in _invocations.Values) waiter.TrySetException(gone);
            _closed.TrySetResult();
        }
    }

    public async Task SendAsync(StreamingMessage message, CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new InvalidOperationException("The worker has not opened its stream.");
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await writer.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public Task<FunctionLoadResponse> ExpectLoad(string functionId) => Expect(_loads, functionId);

    public Task<InvocationResponse> ExpectInvocation(string invocationId) => Expect(_invocations, invocationId);

    private void Dispatch(StreamingMessage message)
    {
        switch (message.ContentCase)
        {
            case StreamingMessage.ContentOneofCase.StartStream:
                _started.TrySetResult(message.StartStream);
                break;
            case StreamingMessage.ContentOneofCase.WorkerInitResponse:
                _initialized.TrySetResult(message.WorkerInitResponse);
                break;
            case StreamingMessage.ContentOneofCase.FunctionMetadataResponse:
                _metadata.TrySetResult(message.FunctionMetadataResponse);
                break;
            case StreamingMessage.ContentOneofCase.FunctionLoadResponse:
                Expect(_loads, message.FunctionLoadResponse.FunctionId);
                _loads[message.FunctionLoadResponse.FunctionId].TrySetResult(message.FunctionLoadResponse);
                break;
            case StreamingMessage.ContentOneofCase.InvocationResponse:
                Expect(_invocations, message.InvocationResponse.InvocationId);
                _invocations[message.InvocationResponse.InvocationId].TrySetResult(message.InvocationResponse);
                break;
            case StreamingMessage.ContentOneofCase.RpcLog:
                Logs.Enqueue(message.RpcLog);
                break;
            default:
                // Messages this harness does not ask for (or fields it does not know) are ignored, as a host would.
                break;
        }
    }

    private static Task<T> Expect<T>(ConcurrentDictionary<string, TaskCompletionSource<T>> waiters, string key) =>
        waiters.GetOrAdd(key, _ => New<T>()).Task;

    private static TaskCompletionSource<T> New<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The FunctionRpc service the worker connects to: hands its stream to the one <see cref="WorkerConnection"/>.</summary>
internal sealed class FunctionRpcService(WorkerConnection connection) : FunctionRpc.FunctionRpcBase
{
    public override Task EventStream(IAsyncStreamReader<StreamingMessage> requestStream, IServerStreamWriter<StreamingMessage> responseStream, ServerCallContext context) =>
        connection.RunAsync(requestStream, responseStream, context.CancellationToken);
}

using System;
using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace HeaderFraming.Serialization;

/// <summary>
/// Messages as UTF-8 JSON payloads through System.Text.Json's source-generated metadata (<see cref="JsonTypeInfo{T}"/>):
/// trimming- and native-AOT-friendly, no reflection. On every target: System.Text.Json is part of the BCL on .NET 8+ and a
/// package dependency on netstandard2.0.
/// </summary>
/// <typeparam name="T">The message type.</typeparam>
/// <remarks>
/// <example>
/// <code>
/// [JsonSerializable(typeof(Order))]
/// partial class AppJsonContext : JsonSerializerContext { }
///
/// var serializer = new JsonFrameSerializer&lt;Order&gt;(AppJsonContext.Default.Order);
/// await connection.SendAsync(order, serializer);
/// </code>
/// </example>
/// </remarks>
public sealed class JsonFrameSerializer<T> : IFrameSerializer<T>
{
    private readonly JsonTypeInfo<T> _typeInfo;
    private readonly JsonWriterOptions _writerOptions;
    private readonly JsonReaderOptions _readerOptions;

    /// <summary>Creates a serializer from source-generated metadata.</summary>
    /// <param name="typeInfo">The metadata, e.g. <c>AppJsonContext.Default.Order</c>.</param>
    public JsonFrameSerializer(JsonTypeInfo<T> typeInfo)
    {
        _typeInfo = typeInfo ?? throw new ArgumentNullException(nameof(typeInfo));
        JsonSerializerOptions options = typeInfo.Options;
        _writerOptions = new JsonWriterOptions { Encoder = options.Encoder, Indented = options.WriteIndented, SkipValidation = true };
        _readerOptions = new JsonReaderOptions
        {
            AllowTrailingCommas = options.AllowTrailingCommas,
            CommentHandling = options.ReadCommentHandling,
            MaxDepth = options.MaxDepth,
        };
    }

    /// <inheritdoc />
    public void Serialize(T value, IBufferWriter<byte> destination)
    {
        using var writer = new Utf8JsonWriter(destination, _writerOptions);
        JsonSerializer.Serialize(writer, value, _typeInfo);
    }

    /// <inheritdoc />
    /// <exception cref="JsonException">The payload is not valid JSON for <typeparamref name="T"/>.</exception>
    public T Deserialize(in ReadOnlySequence<byte> payload)
    {
        var reader = new Utf8JsonReader(payload, _readerOptions);
        return JsonSerializer.Deserialize(ref reader, _typeInfo)!;
    }
}

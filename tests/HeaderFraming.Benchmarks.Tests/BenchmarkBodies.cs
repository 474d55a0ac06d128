using System.Reflection;
using BenchmarkDotNet.Attributes;
using HeaderFraming.Benchmarks;
using HeaderFraming.Benchmarks.Infrastructure;

namespace HeaderFraming.Benchmarks.Tests;

/// <summary>Runs benchmark bodies once, the way BenchmarkDotNet would (params, global setup, method, global cleanup), on
/// 64 KiB workloads instead of 16 MiB, without BenchmarkDotNet's runner.</summary>
internal static class BenchmarkBodies
{
    public const int TestBufferBytes = 64 * 1024;

    static BenchmarkBodies() => Workload.BufferBytes = TestBufferBytes;

    public static IEnumerable<Type> Classes { get; } = typeof(Program).Assembly.GetTypes()
        .Where(t => t.IsClass && !t.IsAbstract && t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() != null))
        .OrderBy(t => t.Name)
        .ToArray();

    public static IEnumerable<object[]> Cases()
    {
        foreach (Type type in Classes)
        {
            foreach (int size in PayloadSizes(type))
            {
                foreach (MethodInfo method in BenchmarkMethods(type))
                {
                    yield return new object[] { type.Name, method.Name, size };
                }
            }
        }
    }

    public static IEnumerable<MethodInfo> BenchmarkMethods(Type type)
        => type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() != null).OrderBy(m => m.Name);

    public static int[] PayloadSizes(Type type)
    {
        PropertyInfo property = type.GetProperty("PayloadSize")!;
        if (property.GetCustomAttribute<ParamsAttribute>() is ParamsAttribute values)
        {
            return values.Values.Cast<int>().ToArray();
        }

        // [ParamsSource(typeof(PayloadSizes), nameof(PayloadSizes.Values))]: the sizes the benchmarks run by default.
        Assert.NotNull(property.GetCustomAttribute<ParamsSourceAttribute>());
        return Infrastructure.PayloadSizes.Values.ToArray();
    }

    /// <summary>Creates the class and runs its [GlobalSetup] for one payload size.</summary>
    public static T Create<T>(int payloadSize) => (T)Create(typeof(T), payloadSize);

    public static object Create(Type type, int payloadSize)
    {
        _ = Classes; // runs the static constructor: tiny workloads
        object instance = Activator.CreateInstance(type)!;
        type.GetProperty("PayloadSize")!.SetValue(instance, payloadSize);
        foreach (MethodInfo setup in type.GetMethods().Where(m => m.GetCustomAttribute<GlobalSetupAttribute>() != null))
        {
            setup.Invoke(instance, null);
        }

        return instance;
    }

    public static void Cleanup(object instance)
    {
        foreach (MethodInfo cleanup in instance.GetType().GetMethods().Where(m => m.GetCustomAttribute<GlobalCleanupAttribute>() != null))
        {
            cleanup.Invoke(instance, null);
        }
    }

    /// <summary>Invokes one benchmark method and waits for it; rethrows what it threw, unwrapped.</summary>
    public static async Task<object?> InvokeAsync(object instance, string methodName)
    {
        MethodInfo method = instance.GetType().GetMethod(methodName)!;
        object? result;
        try
        {
            result = method.Invoke(instance, null);
        }
        catch (TargetInvocationException ex) when (ex.InnerException != null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }

        if (result is Task task)
        {
            await task.WaitAsync(TimeSpan.FromSeconds(30));
            return task.GetType().GetProperty("Result")?.GetValue(task);
        }

        return result;
    }
}
